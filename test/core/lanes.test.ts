/**
 * Per-session lanes through HTTP: turns of one session key run one after the other in
 * arrival order (the second sees the first as history); different keys run at once.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { readCompletion, readError } from '../helpers/read.js';
import { DEFAULT_REPLY, SYSTEM_PROMPT, assistant, chat, hold, lastContent, messagesOf, roundTrip, startCore, system, turnSummary, user, type CoreSetup } from './support.js';

let setup: CoreSetup | undefined;
afterEach(async () => {
  await setup?.close();
  setup = undefined;
});

describe('session lanes', () => {
  it('runs two turns of one session one after the other, in arrival order, the second with the first as history', async () => {
    // Capacity 3 and nothing queued: a probe is refused exactly when A, B and C are all admitted.
    setup = await startCore({ edit: (file) => (file.agents = { ...file.agents, defaults: { maxConcurrent: 3, maxQueued: 0 } }) });
    const { gateway, upstream } = setup;
    const key = 'agent:main:lane-s';
    upstream.behaveOnce(hold(['first ', 'reply'], [' done']), hold(['other reply']));

    const a = chat(gateway, { key, content: 'one' });
    await upstream.nthRequest(1);
    const b = chat(gateway, { key, content: 'two' });
    const c = chat(gateway, { key: 'agent:main:lane-t', content: 'other' });

    // The upstream's second request is C's, not B's: B, sent first, is waiting.
    const second = await upstream.nthRequest(2);
    expect(lastContent(second)).toBe('other');
    // A probe is refused: A and C run and B is admitted. Between admission and beginTurn
    // the core awaits no I/O (the store is synchronous), so had B left its lane, B's turn
    // would be recorded by now.
    const probe = await chat(gateway, { key: 'agent:main:lane-probe', content: 'probe' });
    expect((await readError(probe, 429)).code).toBe('queue_full');
    expect((await gateway.store.loadTurns('main', key)).map((turn) => turn.status)).toEqual(['running']);
    expect(upstream.requests).toHaveLength(2);

    upstream.release();
    const [bodyA, bodyB, bodyC] = await Promise.all([a.then(readCompletion), b.then(readCompletion), c.then(readCompletion)]);
    expect(bodyA.choices[0]?.message.content).toBe('first reply done');
    expect(bodyB.choices[0]?.message.content).toBe(DEFAULT_REPLY);
    expect(bodyC.choices[0]?.message.content).toBe('other reply');

    const third = await upstream.nthRequest(3);
    expect(messagesOf(third)).toEqual([system(SYSTEM_PROMPT), user('one'), assistant('first reply done'), user('two')]);
    expect(upstream.requests).toHaveLength(3);

    const turns = await gateway.store.loadTurns('main', key);
    expect(turns.map(turnSummary)).toEqual([
      { status: 'ok', input: [user('one')], reply: 'first reply done' },
      { status: 'ok', input: [user('two')], reply: DEFAULT_REPLY },
    ]);
    expect(turns.map((turn) => turn.seq)).toEqual([1, 2]);
    // One after the other: the second began only once the first had ended.
    expect(turns[1]?.startedAt).toBeGreaterThanOrEqual(turns[0]?.endedAt ?? Infinity);
  });

  it('runs turns of different sessions concurrently', async () => {
    setup = await startCore();
    const { gateway, upstream } = setup;
    upstream.behaveOnce(hold(['held ']));
    let aSettled = false;
    const a = chat(gateway, { key: 'agent:main:conc-a', content: 'a' }).finally(() => {
      aSettled = true;
    });
    const first = await upstream.nthRequest(1);

    // B completes while A is still held at the upstream.
    const bodyB = await readCompletion(await chat(gateway, { key: 'agent:main:conc-b', content: 'b' }));
    expect(bodyB.choices[0]?.message.content).toBe(DEFAULT_REPLY);
    expect(aSettled).toBe(false);
    expect(first.closedAt).toBeUndefined();
    expect((await gateway.store.loadTurns('main', 'agent:main:conc-a')).map((turn) => turn.status)).toEqual(['running']);
    expect(lastContent(await upstream.nthRequest(2))).toBe('b');

    upstream.release();
    expect((await readCompletion(await a)).choices[0]?.message.content).toBe('held ');
    expect((await gateway.store.loadTurns('main', 'agent:main:conc-a')).map(turnSummary)).toEqual([{ status: 'ok', input: [user('a')], reply: 'held ' }]);
  });

  it('a turn whose client leaves while it waits in the lane never runs and does not hold up the next', async () => {
    setup = await startCore({ edit: (file) => (file.agents = { ...file.agents, defaults: { maxConcurrent: 3, maxQueued: 0 } }) });
    const { gateway, upstream } = setup;
    const key = 'agent:main:lane-leave';
    upstream.behaveOnce(hold(['first']));
    const a = chat(gateway, { key, content: 'one' });
    await upstream.nthRequest(1);
    const leaving = new AbortController();
    const b = chat(gateway, { key, content: 'two (leaves)', signal: leaving.signal });
    const c = chat(gateway, { key, content: 'three' });
    // Full (A runs, B and C wait in the lane): both are in the gateway.
    expect((await readError(await chat(gateway, { key: 'agent:main:lane-probe', content: 'probe' }), 429)).code).toBe('queue_full');

    leaving.abort();
    await expect(b).rejects.toThrow();
    await roundTrip(gateway);
    // B has left: one place is free again (A runs, C waits).
    const probe = await chat(gateway, { key: 'agent:main:lane-probe-2', content: 'probe 2' });
    expect((await readCompletion(probe)).choices[0]?.message.content).toBe(DEFAULT_REPLY);
    upstream.release();
    await readCompletion(await a);
    await readCompletion(await c);
    // C ran after A, with A (and nothing of B) as history; B never reached the upstream
    // and, dropped while waiting, was never recorded.
    expect(messagesOf(await upstream.nthRequest(3))).toEqual([system(SYSTEM_PROMPT), user('one'), assistant('first'), user('three')]);
    expect(upstream.requests.map(lastContent)).toEqual(['one', 'probe 2', 'three']);
    expect((await gateway.store.loadTurns('main', key)).map(turnSummary)).toEqual([
      { status: 'ok', input: [user('one')], reply: 'first' },
      { status: 'ok', input: [user('three')], reply: DEFAULT_REPLY },
    ]);
  });
});
