/**
 * Two real gateway processes on one PostgreSQL (how the issue shows it): 50 turns of one
 * session sent alternately and concurrently to both are recorded as 50 turns in order,
 * each model request carrying every earlier turn; a replica SIGKILLed mid-stream releases
 * the session at once: the other serves it without waiting for a sweep, and the cut turn
 * ends `interrupted`. The database URL comes through `${ENV}` and its password appears
 * in nothing the processes print.
 */
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cleanEnv, startCliGateway, type RunningGateway } from '../helpers/cli.js';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { openStream } from '../helpers/open-stream.js';
import { DATABASE_URL, HAS_POSTGRES, dropSchemas, freshSchema } from '../helpers/postgres.js';
import { PROCESS_TOKEN, assistant, chat, upstreamConfig, user, within } from '../helpers/process-gateway.js';
import { readCompletion } from '../helpers/read.js';
import { openPostgresStore } from '../../src/sessions/postgres/store.js';
import type { Turn } from '../../src/sessions/store.js';

const PASSWORD = HAS_POSTGRES ? decodeURIComponent(new URL(DATABASE_URL ?? '').password) : '';
let upstream: FakeUpstream;
const children: RunningGateway[] = [];
beforeEach(async () => {
  upstream = await startFakeUpstream();
  // Each reply names the message it answers, so a transcript shows which turn got which reply.
  upstream.behaveWith((body) => {
    const messages = body.messages as { content: string }[];
    return { kind: 'reply', deltas: [`re: ${messages.at(-1)?.content ?? ''}`] };
  });
});
afterEach(async () => {
  for (const child of children.splice(0)) child.child.kill('SIGKILL');
  await upstream.close();
});
afterAll(dropSchemas);

async function replicas(schema: string, count: number): Promise<RunningGateway[]> {
  const config = upstreamConfig(upstream.baseUrl, { postgresSchema: schema });
  const env = cleanEnv({ CLAWDBOT_GATEWAY_TOKEN: PROCESS_TOKEN, MOLTBOT_DATABASE_URL: DATABASE_URL ?? '' });
  const started = await Promise.all(Array.from({ length: count }, () => startCliGateway(['--port', '0', '--config', config], env)));
  children.push(...started);
  return started;
}

async function transcript(schema: string, key: string): Promise<Turn[]> {
  const store = await openPostgresStore({ url: DATABASE_URL ?? '', schema, poolSize: 1 });
  try {
    return await store.loadTurns('main', key);
  } finally {
    await store.close();
  }
}

describe.skipIf(!HAS_POSTGRES)('two gateway processes on one PostgreSQL', () => {
  it('50 turns of one session sent alternately and at once to both: 50 turns in order, each model request with every earlier turn', async () => {
    const schema = freshSchema('fifty');
    const [a, b] = (await replicas(schema, 2)) as [RunningGateway, RunningGateway];
    const started = performance.now();
    const responses = await Promise.all(
      Array.from({ length: 50 }, async (_, i) => {
        const target = i % 2 === 0 ? a : b;
        return readCompletion(await chat(target.url, { model: 'moltbot', user: 'shared', messages: [user(`turn ${i}`)] }));
      }),
    );
    const ms = performance.now() - started;
    responses.forEach((response, i) => expect(response.choices[0]?.message.content).toBe(`re: turn ${i}`));

    const turns = await transcript(schema, 'agent:main:openai-user:shared');
    expect(turns.map((t) => [t.seq, t.status])).toEqual(Array.from({ length: 50 }, (_, i) => [i + 1, 'ok']));
    expect(new Set(turns.map((t) => t.input[0]?.content)).size).toBe(50);
    // The request that produced each recorded turn (the last one for its message: earlier
    // attempts were abandoned when the other replica got there first) holds every earlier turn.
    for (const [i, turn] of turns.entries()) {
      const said = turn.input[0]?.content ?? '';
      const request = upstream.requests.filter((r) => (r.body.messages as { content: string }[]).at(-1)?.content === said).at(-1);
      const earlier = turns.slice(0, i).flatMap((t) => [user(t.input[0]?.content ?? ''), assistant(`re: ${t.input[0]?.content ?? ''}`)]);
      expect(request?.body.messages, `turn ${i + 1} (${said})`).toEqual([...earlier, user(said)]);
      expect(turn.reply).toEqual(assistant(`re: ${said}`));
    }
    for (const child of [a, b]) child.child.kill('SIGTERM');
    let waits = 0;
    for (const child of [a, b]) {
      const done = await within(child.done, 20_000, 'a replica exiting');
      expect(done.code).toBe(0);
      expect(`${done.stdout}${done.stderr}`).not.toContain(PASSWORD);
      waits += done.stderr.split('\n').filter((line) => line.includes('waits for a turn of its session running in another process')).length;
    }
    console.log(
      `replicas: 50 turns of one session over 2 gateways in ${ms.toFixed(0)} ms; ${waits} turns waited for the other replica; ` +
        `${upstream.requests.length - 50} model requests abandoned after reaching the upstream`,
    );
  });

  it('a replica SIGKILLed mid-stream: the other serves the session at once, and the cut turn ends interrupted', async () => {
    const schema = freshSchema('kill');
    const [a, b] = (await replicas(schema, 2)) as [RunningGateway, RunningGateway];
    await readCompletion(await chat(a.url, { model: 'moltbot', user: 'kim', messages: [user('first')] }));
    upstream.behaveOnce({ kind: 'hold', deltas: ['partial'], rest: [' never'] });
    const stream = openStream(await chat(a.url, { model: 'moltbot', user: 'kim', stream: true, messages: [user('cut')] }));
    await stream.waitFor((raw) => raw.includes('partial'));
    a.child.kill('SIGKILL');
    expect((await within(a.done, 10_000, 'the killed replica exiting')).signal).toBe('SIGKILL');
    expect((await stream.ended).raw).not.toContain('[DONE]');

    const started = performance.now();
    const next = await readCompletion(await chat(b.url, { model: 'moltbot', user: 'kim', messages: [user('after')] }));
    const ms = performance.now() - started;
    expect(next.choices[0]?.message.content).toBe('re: after');
    // At once: the sweep (every 5 s) is not what freed it.
    expect(ms).toBeLessThan(4_000);
    expect(upstream.requests.at(-1)?.body.messages).toEqual([user('first'), assistant('re: first'), user('after')]);
    const turns = await transcript(schema, 'agent:main:openai-user:kim');
    expect(turns.map((t) => [t.seq, t.status, t.input[0]?.content])).toEqual([
      [1, 'ok', 'first'],
      [2, 'interrupted', 'cut'],
      [3, 'ok', 'after'],
    ]);
    console.log(`replicas: after a SIGKILL mid-stream the other replica served the session in ${ms.toFixed(0)} ms`);
  });
});
