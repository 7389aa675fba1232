/**
 * The PostgreSQL store's schema as numbered migrations, recorded in `schema_migrations`.
 * They are applied at start-up in one transaction that first takes an advisory lock on
 * the schema, so N replicas starting at once on an empty database migrate it once (the
 * others wait, then find nothing to do). Append-only: a released migration never
 * changes; a change is a new entry at the end.
 *
 * The hot paths are functions in the database (`begin_turn`, `finish_turn`): a turn's
 * start is one round trip that locks the session, checks it is as the turn read it and
 * that no live replica runs a turn in it, interrupts dead replicas' turns and inserts.
 */
import { INSTANCE_LOCK_PREFIX, LOCK } from './locks.js';

export interface PgMigration {
  version: number;
  name: string;
  /** The SQL, for the schema `s` (already quoted). */
  sql(s: string): string;
}

export const PG_MIGRATIONS: readonly PgMigration[] = [
  {
    version: 1,
    name: 'sessions, turns, instances; begin_turn, finish_turn, instance_alive',
    sql: (s) => `
CREATE TABLE ${s}.sessions (
  n bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id text NOT NULL UNIQUE,
  key text NOT NULL,
  agent_id text NOT NULL,
  kind text NOT NULL,
  created_at bigint NOT NULL,
  updated_at bigint NOT NULL,
  turns integer NOT NULL DEFAULT 0,
  last_status text
);
-- (key, agent) lookups of the current transcript (the newest n), and a key's transcripts.
CREATE INDEX sessions_by_key_agent ON ${s}.sessions (key, agent_id, n);

CREATE TABLE ${s}.turns (
  session_id text NOT NULL REFERENCES ${s}.sessions (id) ON DELETE CASCADE,
  seq integer NOT NULL,
  status text NOT NULL,
  -- The replica (instance id) running the turn; kept after an interrupt, so a replica
  -- that was only cut off from the database can still record how its turn ended.
  owner text,
  input text NOT NULL,
  reply text,
  reply_original_bytes bigint,
  instructions text,
  finish_reason text,
  usage text,
  error text,
  started_at bigint NOT NULL,
  ended_at bigint,
  PRIMARY KEY (session_id, seq)
);
-- Only running turns: found without walking a transcript.
CREATE INDEX turns_running ON ${s}.turns (session_id) WHERE status = 'running';

-- Replicas seen, for operators (the lock, not this row, says whether one lives).
CREATE TABLE ${s}.instances (
  id text PRIMARY KEY,
  host text NOT NULL,
  pid integer NOT NULL,
  started_at bigint NOT NULL,
  heartbeat_at bigint NOT NULL
);

-- A replica holds a session-level advisory lock on this key on its own connection for as
-- long as it lives; the server drops it when that connection closes (the replica died).
CREATE FUNCTION ${s}.instance_lock_key(p_id text) RETURNS bigint
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT hashtextextended('${INSTANCE_LOCK_PREFIX}' || p_id, 0) $$;

CREATE FUNCTION ${s}.instance_alive(p_id text) RETURNS boolean
  LANGUAGE sql STABLE
  AS $$
    SELECT EXISTS (
      SELECT 1 FROM pg_locks
      WHERE locktype = 'advisory' AND granted AND objsubid = 1
        AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND classid = ((${s}.instance_lock_key(p_id) >> 32) & 4294967295)::oid
        AND objid = (${s}.instance_lock_key(p_id) & 4294967295)::oid)
  $$;

CREATE FUNCTION ${s}.interrupt_turn(p_session_id text, p_seq integer, p_at bigint) RETURNS void
  LANGUAGE sql
  AS $$
    UPDATE ${s}.turns SET status = 'interrupted', ended_at = p_at
      WHERE session_id = p_session_id AND seq = p_seq AND status = 'running';
    UPDATE ${s}.sessions SET last_status = 'interrupted'
      WHERE id = p_session_id AND last_status = 'running' AND turns = p_seq;
  $$;

-- Whether a replica other than p_self runs a turn in the transcript; with p_interrupt,
-- running turns of dead replicas are marked interrupted on the way.
CREATE FUNCTION ${s}.live_turn_elsewhere(p_session_id text, p_self text, p_interrupt boolean, p_at bigint) RETURNS boolean
  LANGUAGE plpgsql
  AS $$
  DECLARE
    t record;
    live boolean := false;
  BEGIN
    FOR t IN SELECT seq, owner FROM ${s}.turns WHERE session_id = p_session_id AND status = 'running' LOOP
      CONTINUE WHEN t.owner = p_self;
      IF t.owner IS NOT NULL AND ${s}.instance_alive(t.owner) THEN
        live := true;
      ELSIF p_interrupt THEN
        PERFORM ${s}.interrupt_turn(p_session_id, t.seq, p_at);
      END IF;
    END LOOP;
    RETURN live;
  END;
  $$;

-- A turn's start: SQLSTATE MB001/MB002 are SessionConflict (nothing written).
CREATE FUNCTION ${s}.begin_turn(
  p_session_id text, p_key text, p_agent_id text, p_kind text, p_new boolean,
  p_expected_session text, p_expected_turns integer, p_check_status boolean, p_expected_status text,
  p_input text, p_instructions text, p_started_at bigint, p_owner text
) RETURNS integer
  LANGUAGE plpgsql
  AS $$
  DECLARE
    v_current text;
    v_turns integer;
    v_status text;
    v_seq integer := 1;
  BEGIN
    -- A stateless key was minted for this turn: nobody else can know it.
    IF p_kind <> 'stateless' THEN
      PERFORM pg_advisory_xact_lock(${LOCK.session}, hashtext(p_agent_id || E'\\n' || p_key));
      SELECT id, turns, last_status INTO v_current, v_turns, v_status FROM ${s}.sessions
        WHERE key = p_key AND agent_id = p_agent_id ORDER BY n DESC LIMIT 1;
      IF v_current IS DISTINCT FROM p_expected_session OR coalesce(v_turns, 0) <> p_expected_turns
         OR (p_check_status AND v_status IS DISTINCT FROM p_expected_status) THEN
        RAISE EXCEPTION 'the session changed since its history was read' USING ERRCODE = 'MB001';
      END IF;
      IF v_current IS NOT NULL AND ${s}.live_turn_elsewhere(v_current, p_owner, true, p_started_at) THEN
        RAISE EXCEPTION 'another process is running a turn in the session' USING ERRCODE = 'MB002';
      END IF;
    END IF;
    IF p_new THEN
      INSERT INTO ${s}.sessions (id, key, agent_id, kind, created_at, updated_at, turns, last_status)
        VALUES (p_session_id, p_key, p_agent_id, p_kind, p_started_at, p_started_at, 1, 'running');
    ELSE
      IF p_kind = 'stateless' OR p_session_id IS DISTINCT FROM p_expected_session THEN
        RAISE EXCEPTION 'turn continues transcript %, not the session''s current one', p_session_id USING ERRCODE = 'MB003';
      END IF;
      v_seq := p_expected_turns + 1;
    END IF;
    INSERT INTO ${s}.turns (session_id, seq, status, owner, input, instructions, started_at)
      VALUES (p_session_id, v_seq, 'running', p_owner, p_input, p_instructions, p_started_at);
    IF NOT p_new THEN
      UPDATE ${s}.sessions SET turns = greatest(turns, v_seq), updated_at = p_started_at, last_status = 'running'
        WHERE id = p_session_id;
    END IF;
    RETURN v_seq;
  END;
  $$;

-- A turn's end. A turn interrupted meanwhile (by a replica that found this one's lock
-- gone while it was cut off from the database) is still recorded by its own replica.
CREATE FUNCTION ${s}.finish_turn(
  p_session_id text, p_seq integer, p_owner text, p_status text, p_reply text, p_reply_original_bytes bigint,
  p_finish_reason text, p_usage text, p_error text, p_ended_at bigint
) RETURNS boolean
  LANGUAGE plpgsql
  AS $$
  BEGIN
    UPDATE ${s}.turns SET status = p_status, reply = p_reply, reply_original_bytes = p_reply_original_bytes,
        finish_reason = p_finish_reason, usage = p_usage, error = p_error, ended_at = p_ended_at
      WHERE session_id = p_session_id AND seq = p_seq
        AND (status = 'running' OR (status = 'interrupted' AND owner = p_owner));
    IF NOT FOUND THEN
      RETURN false;
    END IF;
    UPDATE ${s}.sessions SET updated_at = greatest(updated_at, p_ended_at),
        last_status = CASE WHEN turns <= p_seq THEN p_status ELSE last_status END
      WHERE id = p_session_id;
    RETURN true;
  END;
  $$;

-- Running turns of replicas that are gone (p_self's excepted), marked interrupted.
CREATE FUNCTION ${s}.interrupt_dead(p_self text, p_at bigint) RETURNS integer
  LANGUAGE plpgsql
  AS $$
  DECLARE
    t record;
    n integer := 0;
  BEGIN
    FOR t IN
      WITH owners AS (
        SELECT DISTINCT owner FROM ${s}.turns WHERE status = 'running' AND owner IS DISTINCT FROM p_self
      ), dead AS (
        SELECT owner FROM owners WHERE owner IS NULL OR NOT ${s}.instance_alive(owner)
      )
      SELECT session_id, seq FROM ${s}.turns
        WHERE status = 'running' AND (owner IS NULL OR owner IN (SELECT owner FROM dead))
    LOOP
      PERFORM ${s}.interrupt_turn(t.session_id, t.seq, p_at);
      n := n + 1;
    END LOOP;
    RETURN n;
  END;
  $$;
`,
  },
  {
    version: 2,
    name: 'idempotency keys and failed-auth counters shared by replicas',
    sql: (s) => `
CREATE TABLE ${s}.idempotency_keys (
  scope text NOT NULL,
  key text NOT NULL,
  fingerprint text NOT NULL,
  state text NOT NULL,
  owner text,
  session_id text,
  seq integer,
  payload text,
  created_at bigint NOT NULL,
  PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_by_age ON ${s}.idempotency_keys (created_at);

CREATE TABLE ${s}.auth_failures (
  address text PRIMARY KEY,
  window_start bigint NOT NULL,
  failures integer NOT NULL,
  blocked_until bigint NOT NULL
);
CREATE INDEX auth_failures_by_age ON ${s}.auth_failures (greatest(window_start, blocked_until));
`,
  },
  {
    version: 3,
    // \`sessions list\` a page at a time, most recently updated first, on any store size.
    name: 'sessions_by_update: pages of the session list',
    sql: (s) => `
CREATE INDEX sessions_by_update ON ${s}.sessions (updated_at, id);
`,
  },
  {
    version: 4,
    // A turn's idempotency key claimed in the statement that begins it, settled in the one
    // that finishes it: no round trip of its own (docs/decisions/0015-*).
    name: 'begin_keyed_turn, finish_keyed_turn: idempotency keys written with their turn',
    sql: (s) => `
-- Claims the key for the turn (p_session_id, p_seq); when it is taken, SQLSTATE MB004
-- (running), MB005 (done) or MB006 (another request's). The primary key decides races.
CREATE FUNCTION ${s}.claim_idempotency_key(
  p_scope text, p_key text, p_fingerprint text, p_owner text, p_session_id text, p_seq integer, p_payload text,
  p_now bigint, p_window_start bigint
) RETURNS void
  LANGUAGE plpgsql
  AS $$
  DECLARE
    v_fingerprint text;
    v_state text;
  BEGIN
    INSERT INTO ${s}.idempotency_keys AS k (scope, key, fingerprint, state, owner, session_id, seq, payload, created_at)
      VALUES (p_scope, p_key, p_fingerprint, 'running', p_owner, p_session_id, p_seq, p_payload, p_now)
      ON CONFLICT (scope, key) DO UPDATE SET fingerprint = excluded.fingerprint, state = 'running', owner = excluded.owner,
        session_id = excluded.session_id, seq = excluded.seq, payload = excluded.payload, created_at = excluded.created_at
      WHERE k.created_at < p_window_start
        OR (k.state = 'running' AND k.fingerprint = excluded.fingerprint AND k.owner IS DISTINCT FROM excluded.owner
            AND NOT ${s}.instance_alive(k.owner));
    IF NOT FOUND THEN
      SELECT fingerprint, state INTO v_fingerprint, v_state FROM ${s}.idempotency_keys WHERE scope = p_scope AND key = p_key;
      IF v_fingerprint IS DISTINCT FROM p_fingerprint THEN
        RAISE EXCEPTION 'the idempotency key was used for another request' USING ERRCODE = 'MB006';
      ELSIF v_state = 'done' THEN
        RAISE EXCEPTION 'the idempotency key was completed' USING ERRCODE = 'MB005';
      END IF;
      RAISE EXCEPTION 'the idempotency key is in use' USING ERRCODE = 'MB004';
    END IF;
  END;
  $$;

-- The claim of the turn's key, then begin_turn, in one statement (one transaction).
CREATE FUNCTION ${s}.begin_keyed_turn(
  p_session_id text, p_key text, p_agent_id text, p_kind text, p_new boolean,
  p_expected_session text, p_expected_turns integer, p_check_status boolean, p_expected_status text,
  p_input text, p_instructions text, p_started_at bigint, p_owner text,
  p_scope text, p_idem_key text, p_fingerprint text, p_payload text, p_window_start bigint
) RETURNS integer
  LANGUAGE plpgsql
  AS $$
  DECLARE
    v_seq integer;
  BEGIN
    -- The key first: a repeat is refused for its key, never made to wait for its session.
    PERFORM ${s}.claim_idempotency_key(p_scope, p_idem_key, p_fingerprint, p_owner, p_session_id, NULL, p_payload, p_started_at, p_window_start);
    v_seq := ${s}.begin_turn(p_session_id, p_key, p_agent_id, p_kind, p_new, p_expected_session, p_expected_turns,
      p_check_status, p_expected_status, p_input, p_instructions, p_started_at, p_owner);
    UPDATE ${s}.idempotency_keys SET seq = v_seq WHERE scope = p_scope AND key = p_idem_key;
    RETURN v_seq;
  END;
  $$;

-- finish_turn, then (with a key) the key completed by an ok turn, freed by any other.
CREATE FUNCTION ${s}.finish_keyed_turn(
  p_session_id text, p_seq integer, p_owner text, p_status text, p_reply text, p_reply_original_bytes bigint,
  p_finish_reason text, p_usage text, p_error text, p_ended_at bigint, p_scope text, p_idem_key text
) RETURNS boolean
  LANGUAGE plpgsql
  AS $$
  DECLARE
    v_changed boolean;
  BEGIN
    v_changed := ${s}.finish_turn(p_session_id, p_seq, p_owner, p_status, p_reply, p_reply_original_bytes,
      p_finish_reason, p_usage, p_error, p_ended_at);
    IF p_idem_key IS NOT NULL THEN
      IF p_status = 'ok' THEN
        UPDATE ${s}.idempotency_keys SET state = 'done'
          WHERE scope = p_scope AND key = p_idem_key AND owner = p_owner AND state = 'running';
      ELSE
        DELETE FROM ${s}.idempotency_keys WHERE scope = p_scope AND key = p_idem_key AND owner = p_owner AND state = 'running';
      END IF;
    END IF;
    RETURN v_changed;
  END;
  $$;
`,
  },
  {
    version: 5,
    // moltbot_runs_total{status="interrupted"}: whichever path marks a turn (begin_turn taking
    // over a dead replica's session, delete, the sweep's interrupt_dead, an orphan), the
    // sweep of a replica that counts reads it here, once.
    name: 'interrupted_turns: turns marked interrupted, until a replica counts them',
    sql: (s) => `
CREATE TABLE ${s}.interrupted_turns (
  session_id text NOT NULL,
  seq integer NOT NULL,
  agent_id text NOT NULL,
  at bigint NOT NULL,
  PRIMARY KEY (session_id, seq)
);

-- As in version 1, and the turn noted in interrupted_turns when this call marked it.
CREATE OR REPLACE FUNCTION ${s}.interrupt_turn(p_session_id text, p_seq integer, p_at bigint) RETURNS void
  LANGUAGE sql
  AS $$
    WITH cut AS (
      UPDATE ${s}.turns SET status = 'interrupted', ended_at = p_at
        WHERE session_id = p_session_id AND seq = p_seq AND status = 'running'
        RETURNING session_id, seq
    )
    INSERT INTO ${s}.interrupted_turns (session_id, seq, agent_id, at)
      SELECT cut.session_id, cut.seq, ss.agent_id, p_at FROM cut JOIN ${s}.sessions ss ON ss.id = cut.session_id
      ON CONFLICT DO NOTHING;
    UPDATE ${s}.sessions SET last_status = 'interrupted'
      WHERE id = p_session_id AND last_status = 'running' AND turns = p_seq;
  $$;
`,
  },
];

export const PG_SCHEMA_VERSION = PG_MIGRATIONS.at(-1)?.version ?? 0;
