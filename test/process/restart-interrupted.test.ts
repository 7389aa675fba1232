/**
 * Crash recovery without PIDs: a gateway SIGKILLed mid-stream and restarted at once on
 * the same state dir marks the cut turn `interrupted` before it listens, every time.
 * With PIDs a restart left it `running` whenever the old PID looked alive, as in a
 * container: here each gateway runs in a fresh PID namespace, alternately as PID 1 and
 * as PID 2 under a shell that is PID 1, so every restarted gateway sees its
 * predecessor's PID taken. Four kill-and-restart rounds in a row on one store.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { startCliGateway, type RunAs, type RunningGateway } from '../helpers/cli.js';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { openStream } from '../helpers/open-stream.js';
import { chat, processEnv, showSession, upstreamConfig, user, within } from '../helpers/process-gateway.js';

const ROUNDS = 4;
const UNSHARE = ['unshare', '--pid', '--fork', '--kill-child'];

/** How round `n`'s gateway runs: in a new PID namespace as PID 1 (odd) or PID 2 (even), where possible. */
const namespaces: boolean = (() => {
  try {
    execFileSync(UNSHARE[0] as string, [...UNSHARE.slice(1), 'true'], { stdio: 'pipe' });
    return true;
  } catch {
    console.warn('restart-interrupted: unshare --pid is not available here; gateways run without PID namespaces (PID reuse is then not reproduced)');
    return false;
  }
})();
const runAs = (n: number): RunAs => (!namespaces ? {} : n % 2 === 1 ? { prefix: UNSHARE } : { prefix: [...UNSHARE, 'sh', '-c', '"$@"; exit $?', 'sh'] });
const KEY = 'agent:main:openai-user:kill-me';

let upstream: FakeUpstream | undefined;
const children: RunningGateway[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) child.child.kill('SIGKILL');
  await upstream?.close();
  upstream = undefined;
});

describe('SIGKILL mid-stream, restart immediately', () => {
  it(`the restarted gateway has marked the cut turn interrupted by the time it listens (${ROUNDS} rounds)`, async () => {
    upstream = await startFakeUpstream({ kind: 'hold', deltas: ['partial'] });
    const { env, stateDir } = processEnv();
    const config = upstreamConfig(upstream.baseUrl);
    let gateway = await startCliGateway(['--port', '0', '--config', config], env, runAs(1));
    children.push(gateway);
    for (let round = 1; round <= ROUNDS; round += 1) {
      const stream = openStream(await chat(gateway.url, { model: 'moltbot', user: 'kill-me', stream: true, messages: [user(`round ${round}`)] }));
      await upstream.nthRequest(round);
      await stream.waitFor((raw) => raw.includes('partial'));

      // SIGKILL to the gateway, or to `unshare`, which then SIGKILLs its namespace's PID 1
      // (the gateway or its shell), taking the whole namespace down.
      gateway.child.kill('SIGKILL');
      expect((await within(gateway.done, 10_000, 'the killed gateway exiting')).signal).toBe('SIGKILL');
      gateway = await startCliGateway(['--port', '0', '--config', config], env, runAs(round + 1));
      children.push(gateway);

      // Read straight from the file the moment the new gateway listens, before any other
      // process opened the store: the new gateway itself marked the turn.
      const db = new Database(join(stateDir, 'sessions.sqlite'), { readonly: true, fileMustExist: true });
      try {
        const statuses = db.prepare('SELECT t.seq, t.status FROM turns t JOIN sessions s ON s.id = t.session_id WHERE s.key = ? ORDER BY t.seq').all(KEY);
        expect(statuses, `round ${round}`).toEqual(Array.from({ length: round }, (_, i) => ({ seq: i + 1, status: 'interrupted' })));
      } finally {
        db.close();
      }
      const [session] = await showSession(KEY, env, config);
      expect(session?.session).toMatchObject({ turns: round, lastStatus: 'interrupted' });
      expect(session?.turns.at(-1)).toMatchObject({ seq: round, status: 'interrupted', input: [user(`round ${round}`)] });
    }
  });
});
