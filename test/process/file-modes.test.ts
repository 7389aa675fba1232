/**
 * The store is private: under umask 022, the state dir ends 0700 (also when it already
 * existed with 0755) and `sessions.sqlite`, `-wal` and `-shm` are 0600, whether a
 * gateway or `moltbot agent` creates them, and files an older version left 0644 are
 * narrowed. Real processes, since the modes come from what the process does.
 */
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, startCliGateway, type RunningGateway } from '../helpers/cli.js';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { chat, processEnv, upstreamConfig, user, within } from '../helpers/process-gateway.js';
import { readCompletion } from '../helpers/read.js';

const mode = (path: string): string => (statSync(path).mode & 0o777).toString(8);
const STORE_FILES = ['sessions.sqlite', 'sessions.sqlite-wal', 'sessions.sqlite-shm'];

let upstream: FakeUpstream | undefined;
let gateway: RunningGateway | undefined;
afterEach(async () => {
  gateway?.child.kill('SIGKILL');
  gateway = undefined;
  await upstream?.close();
  upstream = undefined;
});

describe('store file modes under umask 022', () => {
  it('a gateway in an existing 0755 state dir: the dir becomes 0700, the database, WAL and shared-memory files are 0600', async () => {
    upstream = await startFakeUpstream();
    const { env, stateDir } = processEnv();
    chmodSync(stateDir, 0o755);
    expect(mode(stateDir)).toBe('755');
    gateway = await startCliGateway(['--port', '0', '--config', upstreamConfig(upstream.baseUrl)], env, { umask: '022' });
    // A turn, so the WAL has been written to while the gateway runs.
    await readCompletion(await chat(gateway.url, { model: 'moltbot', user: 'modes', messages: [user('hello')] }));
    expect(mode(stateDir)).toBe('700');
    expect(Object.fromEntries(STORE_FILES.map((name) => [name, mode(join(stateDir, name))]))).toEqual({
      'sessions.sqlite': '600',
      'sessions.sqlite-wal': '600',
      'sessions.sqlite-shm': '600',
    });
    // The gateway's instance lock is private too.
    const instances = join(stateDir, 'instances');
    expect(mode(instances)).toBe('700');
    expect(readdirSync(instances).map((name) => mode(join(instances, name)))).toEqual(['600']);
    gateway.child.kill('SIGTERM');
    expect((await within(gateway.done, 15_000, 'the gateway stopping')).code).toBe(0);
    gateway = undefined;
  });

  it('moltbot agent creating the state dir and store from nothing: 0700 and 0600', async () => {
    const { env } = processEnv();
    const stateDir = join(mkdtempSync(join(tmpdir(), 'moltbot-parent-')), 'deeper', 'state');
    const result = await runCli(['agent', '--message', 'hi'], { ...env, MOLTBOT_STATE_DIR: stateDir }, 20_000, { umask: '022' });
    expect(result, JSON.stringify(result)).toMatchObject({ code: 0, stderr: '' });
    expect(mode(stateDir)).toBe('700');
    expect(mode(join(stateDir, 'sessions.sqlite'))).toBe('600');
  });

  it('narrows a 0644 store left by an older version, with its WAL and shared memory', async () => {
    const { env, stateDir } = processEnv();
    chmodSync(stateDir, 0o755);
    const path = join(stateDir, 'sessions.sqlite');
    // An older version's store, left open-for-all: its three files exist 0644.
    const old = new Database(path);
    old.pragma('journal_mode = WAL');
    old.exec('CREATE TABLE leftover (x)');
    for (const name of STORE_FILES) chmodSync(join(stateDir, name), 0o644);
    try {
      const result = await runCli(['sessions', 'list'], env, 20_000, { umask: '022' });
      expect(result, JSON.stringify(result)).toMatchObject({ code: 0, stderr: '' });
      expect(mode(stateDir)).toBe('700');
      for (const name of STORE_FILES) expect(mode(join(stateDir, name)), name).toBe('600');
    } finally {
      old.close();
    }
  });

  it('a state dir nested in new directories: every directory created is 0700', async () => {
    const { env } = processEnv();
    const parent = mkdtempSync(join(tmpdir(), 'moltbot-parent-'));
    mkdirSync(join(parent, 'a'), { mode: 0o755 });
    const stateDir = join(parent, 'a', 'b', 'c');
    const result = await runCli(['sessions', 'list'], { ...env, MOLTBOT_STATE_DIR: stateDir }, 20_000, { umask: '022' });
    expect(result, JSON.stringify(result)).toMatchObject({ code: 0, stderr: '' });
    expect([mode(join(parent, 'a', 'b')), mode(stateDir)]).toEqual(['700', '700']);
    // An existing parent the user made is theirs: left as it was.
    expect(mode(join(parent, 'a'))).toBe('755');
  });
});
