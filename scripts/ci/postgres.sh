#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests and the bench, on 127.0.0.1, in a temp dir.
#
#   eval "$(scripts/ci/postgres.sh start)"     # prints export lines: MOLTBOT_TEST_DATABASE_URL, MOLTBOT_TEST_PGDIR
#   npm test                                   # the PostgreSQL tests now run
#   scripts/ci/postgres.sh stop "$MOLTBOT_TEST_PGDIR"
#
# `crash DIR` stops the server at once (`pg_ctl stop -m immediate`: no clean shutdown, as
# a crash) and keeps its data; `resume DIR` starts it again on the same port. Tests of a
# lost database use them on a cluster of their own.
#
# Installs Debian's `postgresql` package when no initdb is found (needs root, as CI is).
# PostgreSQL refuses to run as root: as root, the cluster belongs to the `postgres` user
# (`runuser`); as anyone else, to that user. It listens on 127.0.0.1 on a free port with
# its sockets in the cluster's dir, and has a database `moltbot_test` owned by a
# password user `moltbot`. Everything lives in the temp dir; `stop` removes it.
set -euo pipefail

PASSWORD='pg-test-secret-8c41d2e7'

find_bin() {
  local found
  found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
  if [ -z "$found" ] || [ ! -x "$found/initdb" ]; then
    return 1
  fi
  echo "$found"
}

as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start() {
  local bin dir port
  if ! bin=$(find_bin); then
    echo "postgres.sh: no PostgreSQL binaries; installing Debian's postgresql package" >&2
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
    bin=$(find_bin)
  fi
  dir=$(mktemp -d "${TMPDIR:-/tmp}/moltbot-pg-XXXXXX")
  chmod 755 "$dir"
  mkdir -p "$dir/data" "$dir/run"
  if [ "$(id -u)" = 0 ]; then chown -R postgres: "$dir"; fi
  printf '%s\n' "$PASSWORD" > "$dir/pwfile"
  if [ "$(id -u)" = 0 ]; then chown postgres: "$dir/pwfile"; fi
  chmod 600 "$dir/pwfile"
  as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
    --pwfile="$dir/pwfile" -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
  rm -f "$dir/pwfile"
  # A free port: the kernel picks one for a listener that is closed at once.
  port=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
  echo "-c listen_addresses=127.0.0.1 -p $port -k $dir/run -c max_connections=200 -c fsync=off -c full_page_writes=off" > "$dir/options"
  as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 -o "$(cat "$dir/options")" start >&2
  as_owner "$bin/psql" -h "$dir/run" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -q >&2 <<SQL
CREATE ROLE moltbot LOGIN PASSWORD '$PASSWORD';
CREATE DATABASE moltbot_test OWNER moltbot;
SQL
  echo "$bin" > "$dir/bin"
  echo "$port" > "$dir/port"
  echo "export MOLTBOT_TEST_DATABASE_URL='postgres://moltbot:$PASSWORD@127.0.0.1:$port/moltbot_test'"
  echo "export MOLTBOT_TEST_PGDIR='$dir'"
}

stop() {
  local dir=${1:-${MOLTBOT_TEST_PGDIR:-}}
  if [ -z "$dir" ] || [ ! -f "$dir/bin" ]; then
    echo "postgres.sh stop: give the dir printed by start (MOLTBOT_TEST_PGDIR)" >&2
    exit 2
  fi
  as_owner "$(cat "$dir/bin")/pg_ctl" -D "$dir/data" -m immediate -w stop >&2 || true
  rm -rf "$dir"
}

cluster_dir() {
  local dir=${1:-${MOLTBOT_TEST_PGDIR:-}}
  if [ -z "$dir" ] || [ ! -f "$dir/bin" ]; then
    echo "postgres.sh: give the dir printed by start (MOLTBOT_TEST_PGDIR)" >&2
    exit 2
  fi
  echo "$dir"
}

crash() {
  local dir
  dir=$(cluster_dir "${1:-}")
  as_owner "$(cat "$dir/bin")/pg_ctl" -D "$dir/data" -m immediate -w stop >&2
}

resume() {
  local dir
  dir=$(cluster_dir "${1:-}")
  as_owner "$(cat "$dir/bin")/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 -o "$(cat "$dir/options")" start >&2
}

case "${1:-}" in
  start) start ;;
  stop) stop "${2:-}" ;;
  crash) crash "${2:-}" ;;
  resume) resume "${2:-}" ;;
  *) echo "usage: $0 start | stop DIR | crash DIR | resume DIR" >&2; exit 2 ;;
esac
