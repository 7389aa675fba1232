/**
 * `moltbot_runs_total{status="interrupted"}`: a turn cut short by a SIGKILLed gateway is
 * counted once. On SQLite by the next gateway on the state dir (at its store's open),
 * also when a `moltbot sessions` command marked it first: a turn of an agent its config no
 * longer lists is counted under `agent="_unconfigured"`, never under the old id. On PostgreSQL
 * it is the surviving replica, whether the cut turn was taken over by a turn in its
 * session or found by the sweep; each is counted once (nothing is left to count twice).
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { cleanEnv, startCliGateway, type RunningGateway } from '../helpers/cli.js';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { scrape, type Scrape } from '../helpers/metrics.js';
import { openStream } from '../helpers/open-stream.js';
import { DATABASE_URL, HAS_POSTGRES, adminQuery, dropSchemas, freshSchema } from '../helpers/postgres.js';
import { PROCESS_TOKEN, chat, processEnv, showSession, upstreamConfig, user, within } from '../helpers/process-gateway.js';
import { readCompletion } from '../helpers/read.js';
import { openPostgresStore } from '../../src/sessions/postgres/store.js';

let upstream: FakeUpstream | undefined;
const children: RunningGateway[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) child.child.kill('SIGKILL');
  await upstream?.close();
  upstream = undefined;
});
afterAll(dropSchemas);

const metricsOf = (gateway: RunningGateway): Promise<Scrape> => scrape({ url: gateway.url, token: PROCESS_TOKEN });
const interrupted = (metrics: Scrape, agent: string): number => metrics.value('moltbot_runs_total', { agent, status: 'interrupted' });

/** Starts a streamed turn on `gateway` and resolves once its first delta arrived (the upstream holds the rest). */
async function cutTurn(gateway: RunningGateway, model: string, who: string, text: string): Promise<void> {
  const stream = openStream(await chat(gateway.url, { model, user: who, stream: true, messages: [user(text)] }));
  await stream.waitFor((raw) => raw.includes('partial'));
}

async function kill(gateway: RunningGateway): Promise<void> {
  gateway.child.kill('SIGKILL');
  expect((await within(gateway.done, 10_000, 'the killed gateway exiting')).signal).toBe('SIGKILL');
}

describe('SQLite: a gateway SIGKILLed mid-turn, the next one on its state dir', () => {
  it('counts each cut turn once as interrupted: under its agent, or _unconfigured for an agent no longer configured', async () => {
    upstream = await startFakeUpstream({ kind: 'hold', deltas: ['partial'] });
    const { env } = processEnv();
    const first = await startCliGateway(['--port', '0', '--config', upstreamConfig(upstream.baseUrl, { agents: ['main', 'retired'] })], env);
    children.push(first);
    await cutTurn(first, 'moltbot:main', 'kill-me', 'cut');
    await cutTurn(first, 'moltbot:retired', 'kill-me', 'cut too');
    await kill(first);

    const config = upstreamConfig(upstream.baseUrl, { agents: ['main'] });
    const next = await startCliGateway(['--port', '0', '--config', config], env);
    children.push(next);
    const metrics = await metricsOf(next);
    expect(interrupted(metrics, 'main')).toBe(1);
    expect(interrupted(metrics, '_unconfigured')).toBe(1);
    expect(metrics.samples.filter((sample) => sample.labels.agent === 'retired')).toEqual([]);
    // Nothing of the cut turns runs here: no active run counted for them.
    expect(metrics.value('moltbot_runs_active')).toBe(0);
    const [session] = await showSession('agent:main:openai-user:kill-me', env, config);
    expect(session?.turns.map((t) => [t.status, t.input])).toEqual([['interrupted', [user('cut')]]]);
    // Counted once: a scrape later says the same.
    expect(interrupted(await metricsOf(next), 'main')).toBe(1);
    // And logged once per agent.
    next.child.kill('SIGTERM');
    const lines = (await within(next.done, 20_000, 'the gateway exiting')).stderr.split('\n').filter((line) => line.includes('runs interrupted'));
    expect(lines.map((line) => JSON.parse(line) as Record<string, unknown>).map(({ agent, status, runs }) => ({ agent, status, runs })).sort((x, y) => String(x.agent).localeCompare(String(y.agent)))).toEqual([
      { agent: '_unconfigured', status: 'interrupted', runs: 1 },
      { agent: 'main', status: 'interrupted', runs: 1 },
    ]);
  });

  it('counts a cut turn that `moltbot sessions show` marked first (it counts nothing itself) when the next gateway starts', async () => {
    upstream = await startFakeUpstream({ kind: 'hold', deltas: ['partial'] });
    const { env } = processEnv();
    const config = upstreamConfig(upstream.baseUrl);
    const first = await startCliGateway(['--port', '0', '--config', config], env);
    children.push(first);
    await cutTurn(first, 'moltbot', 'kill-me', 'cut');
    await kill(first);
    const [session] = await showSession('agent:main:openai-user:kill-me', env, config);
    expect(session?.turns.map((t) => t.status)).toEqual(['interrupted']);

    const next = await startCliGateway(['--port', '0', '--config', config], env);
    children.push(next);
    expect(interrupted(await metricsOf(next), 'main')).toBe(1);
  });
});

describe.skipIf(!HAS_POSTGRES)('PostgreSQL: a replica SIGKILLed mid-turn, the other replica', () => {
  it('counts each cut turn once as interrupted: one taken over by a turn in its session, one found by the sweep', async () => {
    upstream = await startFakeUpstream();
    upstream.behaveWith((body) => {
      const said = (body.messages as { content: string }[]).at(-1)?.content ?? '';
      return said.startsWith('cut') ? { kind: 'hold', deltas: ['partial'], rest: [' never'] } : { kind: 'reply', deltas: [`re: ${said}`] };
    });
    const schema = freshSchema('counted');
    const config = upstreamConfig(upstream.baseUrl, { postgresSchema: schema });
    const env = cleanEnv({ CLAWDBOT_GATEWAY_TOKEN: PROCESS_TOKEN, MOLTBOT_DATABASE_URL: DATABASE_URL ?? '' });
    const [a, b] = await Promise.all([startCliGateway(['--port', '0', '--config', config], env), startCliGateway(['--port', '0', '--config', config], env)]);
    children.push(a, b);
    await cutTurn(a, 'moltbot', 'kim', 'cut one');
    await cutTurn(a, 'moltbot', 'lee', 'cut two');
    await kill(a);

    // kim's session at once: the turn's start marks a's turn interrupted.
    const after = await readCompletion(await chat(b.url, { model: 'moltbot', user: 'kim', messages: [user('after')] }));
    expect(after.choices[0]?.message.content).toBe('re: after');
    // lee's by the sweep (every 5 s); both are counted by b's sweep.
    await expect.poll(async () => interrupted(await metricsOf(b), 'main'), { timeout: 30_000, interval: 250 }).toBeGreaterThanOrEqual(2);
    // Nothing is left to count again.
    expect(await adminQuery(`SELECT * FROM "${schema}".interrupted_turns`)).toEqual([]);
    const metrics = await metricsOf(b);
    expect(interrupted(metrics, 'main')).toBe(2);
    expect(metrics.value('moltbot_runs_total', { agent: 'main', status: 'ok' })).toBe(1);
    expect(metrics.value('moltbot_runs_active')).toBe(0);

    const store = await openPostgresStore({ url: DATABASE_URL ?? '', schema, poolSize: 1 });
    try {
      expect((await store.loadTurns('main', 'agent:main:openai-user:kim')).map((t) => t.status)).toEqual(['interrupted', 'ok']);
      expect((await store.loadTurns('main', 'agent:main:openai-user:lee')).map((t) => t.status)).toEqual(['interrupted']);
    } finally {
      await store.close();
    }
    // The store opened above (no listener, as `moltbot sessions` opens it) took nothing from b.
    expect(interrupted(await metricsOf(b), 'main')).toBe(2);
  });
});
