/**
 * A gateway process whose PostgreSQL crashes (`pg_ctl stop -m immediate`) and comes back,
 * on a cluster of this test's own (scripts/ci/postgres.sh): while it is down, turns are
 * answered 503 `store_unavailable` with `Retry-After` and `/healthz` says `degraded`;
 * once it is back the same process serves again without a restart, and every turn it
 * acknowledged before the crash is in the transcript.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanEnv, startCliGateway, writeConfig, type RunningGateway } from '../helpers/cli.js';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { HAS_POSTGRES } from '../helpers/postgres.js';
import { PROCESS_TOKEN, chat, user, within } from '../helpers/process-gateway.js';
import { readCompletion, readError } from '../helpers/read.js';
import { openPostgresStore } from '../../src/sessions/postgres/store.js';

const SCRIPT = new URL('../../scripts/ci/postgres.sh', import.meta.url).pathname;
const BINARIES = existsSync('/usr/lib/postgresql') && readdirSync('/usr/lib/postgresql').some((v) => existsSync(`/usr/lib/postgresql/${v}/bin/initdb`));
const script = (...args: string[]): string => execFileSync('bash', [SCRIPT, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });

let cluster: { url: string; dir: string } | undefined;
let upstream: FakeUpstream;
let gateway: RunningGateway | undefined;

describe.skipIf(!HAS_POSTGRES || !BINARIES)('PostgreSQL crashes under a running gateway', () => {
  beforeAll(async () => {
    const out = script('start');
    cluster = { url: /MOLTBOT_TEST_DATABASE_URL='([^']+)'/u.exec(out)?.[1] ?? '', dir: /MOLTBOT_TEST_PGDIR='([^']+)'/u.exec(out)?.[1] ?? '' };
    upstream = await startFakeUpstream();
    upstream.behaveWith((body) => ({ kind: 'reply', deltas: [`re: ${(body.messages as { content: string }[]).at(-1)?.content ?? ''}`] }));
  }, 60_000);
  afterAll(async () => {
    gateway?.child.kill('SIGKILL');
    await upstream?.close();
    if (cluster?.dir) script('stop', cluster.dir);
  });

  it('503 store_unavailable and /healthz degraded while it is down; back, the same process serves and no acknowledged turn is lost', async () => {
    const { url, dir } = cluster as { url: string; dir: string };
    const config = writeConfig(`{
  gateway: { http: { endpoints: { chatCompletions: { enabled: true } } } },
  session: { reset: { mode: 'never' }, store: { kind: 'postgres', url: '\${MOLTBOT_DATABASE_URL}', statementTimeoutMs: 2000 } },
  models: { providers: { up: { api: 'openai-completions', baseUrl: '${upstream.baseUrl}', maxRetries: 0 } } },
  agents: { list: [{ id: 'main', model: 'up/m' }] },
}`);
    gateway = await startCliGateway(['--port', '0', '--config', config], cleanEnv({ CLAWDBOT_GATEWAY_TOKEN: PROCESS_TOKEN, MOLTBOT_DATABASE_URL: url }));
    const turn = (text: string): Promise<Response> => chat((gateway as RunningGateway).url, { model: 'moltbot', user: 'pat', messages: [user(text)] });
    for (const text of ['one', 'two', 'three']) expect((await readCompletion(await turn(text))).choices[0]?.message.content).toBe(`re: ${text}`);

    script('crash', dir);
    const refused = await turn('while down');
    expect(refused.headers.get('retry-after')).toBe('2');
    expect((await readError(refused, 503)).code).toBe('store_unavailable');
    const health = await fetch(`${gateway.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'degraded', store: 'unavailable' });

    script('resume', dir);
    await expect.poll(async () => (await turn('after')).status, { timeout: 20_000, interval: 250 }).toBe(200);
    await expect.poll(async () => (await fetch(`${gateway?.url}/healthz`)).json(), { timeout: 20_000 }).toEqual({ status: 'ok' });

    const store = await openPostgresStore({ url, poolSize: 1 });
    try {
      const turns = await store.loadTurns('main', 'agent:main:openai-user:pat');
      expect(turns.slice(0, 3).map((t) => [t.status, t.input[0]?.content, t.reply?.content])).toEqual([
        ['ok', 'one', 're: one'],
        ['ok', 'two', 're: two'],
        ['ok', 'three', 're: three'],
      ]);
      expect(turns.at(-1)).toMatchObject({ status: 'ok', input: [user('after')] });
      expect(turns.some((t) => t.input[0]?.content === 'while down')).toBe(false);
    } finally {
      await store.close();
    }
    gateway.child.kill('SIGTERM');
    const done = await within(gateway.done, 20_000, 'the gateway exiting');
    expect(done.code).toBe(0);
    expect(done.stderr).toContain('session store unavailable');
    expect(done.stderr).toContain('session store available again');
    expect(done.stderr).not.toContain(decodeURIComponent(new URL(url).password));
    gateway = undefined;
  });
});
