/**
 * A provider's own cap (`models.providers.<id>.maxConcurrent` / `maxQueued`) through HTTP,
 * against a real fake upstream: at most `maxConcurrent` of its turns reach the upstream at
 * once, the next ones wait for a slot, and past its queue a turn is refused with 429
 * `provider_queue_full` and `Retry-After` before anything is sent or stored. Agents on
 * other providers are not held up, a refusal gives its global place back, a waiting
 * client that leaves is dropped, and a slot is freed when its run ends, however it ends.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ConfigFile } from '../../src/config/types.js';
import { readCompletion, readError, readStream, streamedText } from '../helpers/read.js';
import { DEFAULT_REPLY, chat, hold, lastContent, readStreamUntil, roundTrip, startCore, type CoreOptions, type CoreSetup } from './support.js';

let setup: CoreSetup | undefined;
afterEach(async () => {
  await setup?.close();
  setup = undefined;
});

/** Provider `up` capped; agent `spare` on the (uncapped) echo stand-in beside `main`. */
function capped(limits: { maxConcurrent: number; maxQueued?: number }, global?: { maxConcurrent: number; maxQueued: number }): CoreOptions {
  return {
    edit: (file: ConfigFile) => {
      const providers = file.models?.providers ?? {};
      file.models = { providers: { ...providers, up: { ...(providers.up as NonNullable<typeof providers.up>), ...limits } } };
      file.agents = { ...file.agents, ...(global ? { defaults: global } : {}), list: [...(file.agents?.list ?? []), { id: 'spare', model: 'echo/echo' }] };
    },
  };
}

/** The provider's refusal: 429 in OpenAI's shape, `provider_queue_full`, naming the provider, with `Retry-After`. */
async function expectProviderFull(res: Response): Promise<void> {
  expect(res.headers.get('retry-after')).toMatch(/^[1-9][0-9]*$/u);
  const error = await readError(res, 429);
  expect(error).toMatchObject({ code: 'provider_queue_full', type: 'invalid_request_error', param: null });
  expect(error.message).toMatch(/provider 'up' is at capacity/u);
}

describe('per-provider run limits', () => {
  it('runs at most maxConcurrent turns on the provider; the next waits for a slot, past the queue 429 provider_queue_full; other providers are not held up', async () => {
    setup = await startCore(capped({ maxConcurrent: 2, maxQueued: 1 }));
    const { gateway, upstream } = setup;
    upstream.behaveOnce(hold(['a'], [' done']), hold(['b'], [' done']));
    const a = chat(gateway, { key: 'agent:main:cap-a', content: 'A', stream: true });
    const b = chat(gateway, { key: 'agent:main:cap-b', content: 'B' });
    await upstream.nthRequest(2);

    let cSettled = false;
    const c = chat(gateway, { key: 'agent:main:cap-c', content: 'C', stream: true }).finally(() => {
      cSettled = true;
    });
    // Refused, streamed or not: A and B run and C is admitted, waiting for a slot.
    await expectProviderFull(await chat(gateway, { key: 'agent:main:cap-probe', content: 'probe' }));
    await expectProviderFull(await chat(gateway, { key: 'agent:main:cap-probe', content: 'probe', stream: true }));
    // C waits: not sent upstream, not begun in the store (between admission and the
    // provider's slot the core awaits nothing but slots), not answered.
    expect(upstream.requests).toHaveLength(2);
    expect(await gateway.store.loadTurns('main', 'agent:main:cap-c')).toEqual([]);
    expect(cSettled).toBe(false);

    // An agent on another provider runs meanwhile.
    expect((await readCompletion(await chat(gateway, { agent: 'spare', content: 'still here' }))).choices[0]?.message.content).toBe('still here');

    upstream.release();
    expect(streamedText(await readStream(await a))).toBe('a done');
    expect((await readCompletion(await b)).choices[0]?.message.content).toBe('b done');
    expect(lastContent(await upstream.nthRequest(3))).toBe('C');
    expect(streamedText(await readStream(await c))).toBe(DEFAULT_REPLY);
    expect(upstream.requests).toHaveLength(3);
    expect(await gateway.store.loadTurns('main', 'agent:main:cap-probe')).toEqual([]);
    expect((await gateway.store.loadTurns('main', 'agent:main:cap-c')).map((turn) => turn.status)).toEqual(['ok']);
  });

  it("a provider's refusal gives its place in the global limit back", async () => {
    // Global room for 2; the provider takes 1 and queues none. Were a refused turn's global
    // place kept, the second refusal would leave no room for the echo agent.
    setup = await startCore(capped({ maxConcurrent: 1, maxQueued: 0 }, { maxConcurrent: 2, maxQueued: 0 }));
    const { gateway, upstream } = setup;
    upstream.behaveOnce(hold(['a']));
    const a = chat(gateway, { key: 'agent:main:give-a', content: 'A' });
    await upstream.nthRequest(1);
    for (let i = 0; i < 3; i += 1) await expectProviderFull(await chat(gateway, { key: `agent:main:give-${i}`, content: 'refused' }));
    expect((await readCompletion(await chat(gateway, { agent: 'spare', content: 'room' }))).choices[0]?.message.content).toBe('room');
    upstream.release();
    await readCompletion(await a);
  });

  it('drops a waiting turn whose client leaves, and frees a slot when its run ends, also by a client leaving mid-stream', async () => {
    setup = await startCore(capped({ maxConcurrent: 1, maxQueued: 1 }));
    const { gateway, upstream } = setup;
    upstream.behaveOnce(hold(['a ']), hold(['c ']));
    const leavingA = new AbortController();
    const a = await chat(gateway, { key: 'agent:main:drop-a', content: 'A', stream: true, signal: leavingA.signal });
    expect(await readStreamUntil(a, (text) => text === 'a ')).toBe('a ');

    const leavingB = new AbortController();
    const b = chat(gateway, { key: 'agent:main:drop-b', content: 'B', signal: leavingB.signal });
    await expectProviderFull(await chat(gateway, { key: 'agent:main:drop-probe', content: 'probe' }));
    leavingB.abort();
    await expect(b).rejects.toThrow();
    await roundTrip(gateway);

    // B's place is free: C is admitted and waits (the provider is full again).
    const c = chat(gateway, { key: 'agent:main:drop-c', content: 'C', stream: true });
    await expectProviderFull(await chat(gateway, { key: 'agent:main:drop-probe', content: 'probe 2' }));
    expect(upstream.requests).toHaveLength(1);

    // A's client leaves mid-stream: its run ends and its slot goes to C.
    leavingA.abort();
    expect(lastContent(await upstream.nthRequest(2))).toBe('C');
    upstream.release();
    expect(streamedText(await readStream(await c))).toBe('c ');
    expect(upstream.requests.map(lastContent)).toEqual(['A', 'C']);
    expect(await gateway.store.loadTurns('main', 'agent:main:drop-b')).toEqual([]);
    expect((await gateway.store.loadTurns('main', 'agent:main:drop-a')).map((turn) => turn.status)).toEqual(['aborted']);
    // Nothing leaked: the slot and the queue place are both free again.
    await readCompletion(await chat(gateway, { key: 'agent:main:drop-d', content: 'D' }));
  });
});
