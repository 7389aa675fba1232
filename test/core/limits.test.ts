/**
 * Run limits through HTTP: past `maxConcurrent` running plus `maxQueued` waiting a turn is
 * refused with 429 + Retry-After before anything reaches the upstream or the store; a
 * queued turn whose client leaves gives its place up.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { readCompletion, readError } from '../helpers/read.js';
import { chat, hold, lastContent, roundTrip, startCore, type CoreOptions, type CoreSetup } from './support.js';

let setup: CoreSetup | undefined;
afterEach(async () => {
  await setup?.close();
  setup = undefined;
});

const limits = (maxConcurrent: number, maxQueued: number): CoreOptions => ({
  edit: (file) => {
    file.agents = { ...file.agents, defaults: { maxConcurrent, maxQueued } };
  },
});

describe('run limits', () => {
  it('refuses a turn with 429 queue_full and Retry-After when full, sends and records nothing for it, and admits again once free', async () => {
    setup = await startCore(limits(1, 0));
    const { gateway, upstream } = setup;
    upstream.behaveOnce(hold(['a']));
    const a = chat(gateway, { key: 'agent:main:lim-a', content: 'A' });
    await upstream.nthRequest(1);

    for (const stream of [false, true]) {
      const refused = await chat(gateway, { key: 'agent:main:lim-b', content: 'B', stream });
      expect(refused.headers.get('retry-after')).toMatch(/^[1-9][0-9]*$/u);
      const error = await readError(refused, 429);
      expect(error).toMatchObject({ code: 'queue_full', type: 'invalid_request_error' });
      expect(error.message).toMatch(/capacity/u);
    }
    expect(upstream.requests).toHaveLength(1);
    expect(await gateway.store.loadTurns('main', 'agent:main:lim-b')).toEqual([]);
    expect((await gateway.store.listSessions()).map((session) => session.key)).toEqual(['agent:main:lim-a']);

    upstream.release();
    await readCompletion(await a);
    await readCompletion(await chat(gateway, { key: 'agent:main:lim-b', content: 'B again' }));
    expect(upstream.requests).toHaveLength(2);
    expect(lastContent(await upstream.nthRequest(2))).toBe('B again');
    expect((await gateway.store.loadTurns('main', 'agent:main:lim-b')).map((turn) => turn.status)).toEqual(['ok']);
  });

  it('drops a queued turn whose client aborts: its place goes to the next request, and it never reaches the upstream', async () => {
    setup = await startCore(limits(1, 1));
    const { gateway, upstream } = setup;
    upstream.behaveOnce(hold(['a']));
    const a = chat(gateway, { key: 'agent:main:drop-a', content: 'A' });
    await upstream.nthRequest(1);

    const leaving = new AbortController();
    const b = chat(gateway, { key: 'agent:main:drop-b', content: 'B', signal: leaving.signal });
    // B is queued: the gateway is full (A running, B waiting).
    expect((await readError(await chat(gateway, { key: 'agent:main:drop-probe', content: 'probe' }), 429)).code).toBe('queue_full');

    leaving.abort();
    await expect(b).rejects.toThrow();
    await roundTrip(gateway);
    let cSettled = false;
    const c = chat(gateway, { key: 'agent:main:drop-c', content: 'C' }).finally(() => {
      cSettled = true;
    });
    // C is admitted and waits for A's slot: the gateway is full again (A running, C waiting),
    // and C has not been answered (a refusal would have come at once).
    expect((await readError(await chat(gateway, { key: 'agent:main:drop-probe', content: 'probe 2' }), 429)).code).toBe('queue_full');
    expect(cSettled).toBe(false);
    expect(upstream.requests).toHaveLength(1);

    upstream.release();
    await readCompletion(await a);
    await readCompletion(await c);
    expect(upstream.requests.map(lastContent)).toEqual(['A', 'C']);
    expect(await gateway.store.loadTurns('main', 'agent:main:drop-b')).toEqual([]);
    expect(await gateway.store.loadTurns('main', 'agent:main:drop-probe')).toEqual([]);
    // Nothing leaked: the single slot and the single queue place are both free again.
    await readCompletion(await chat(gateway, { key: 'agent:main:drop-d', content: 'D' }));
  });
});
