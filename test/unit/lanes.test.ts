/**
 * src/agents/lanes.ts: per-session lanes (agent and key) run turns one at a time in
 * arrival order; a turn that aborts while waiting leaves without holding up those behind it.
 */
import { describe, expect, it } from 'vitest';
import { createLanes } from '../../src/agents/lanes.js';
import { RunAbortedError } from '../../src/domain/errors.js';

/** Lets every pending promise reaction run (a macrotask turn drains the microtask queue). */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

const live = (): AbortSignal => new AbortController().signal;
/** Agent main's session `key`. */
const main = (key: string): { agentId: string; key: string } => ({ agentId: 'main', key });

/** Tracks which acquisitions have been granted, in order. */
function tracker(): { granted: string[]; acquire: (p: Promise<() => void>, name: string) => Promise<() => void> } {
  const granted: string[] = [];
  return {
    granted,
    acquire: (p, name) =>
      p.then((release) => {
        granted.push(name);
        return release;
      }),
  };
}

describe('lanes', () => {
  it('grants one key in arrival order, one at a time', async () => {
    const lanes = createLanes();
    const t = tracker();
    const first = t.acquire(lanes.acquire(main('k'), live()), 'first');
    const second = t.acquire(lanes.acquire(main('k'), live()), 'second');
    const third = t.acquire(lanes.acquire(main('k'), live()), 'third');
    await settle();
    expect(t.granted).toEqual(['first']);

    (await first)();
    await settle();
    expect(t.granted).toEqual(['first', 'second']);

    (await second)();
    await settle();
    expect(t.granted).toEqual(['first', 'second', 'third']);
    (await third)();
  });

  it('runs different keys independently', async () => {
    const lanes = createLanes();
    const t = tracker();
    const a = t.acquire(lanes.acquire(main('a'), live()), 'a');
    const b = t.acquire(lanes.acquire(main('b'), live()), 'b');
    await settle();
    expect(t.granted.sort()).toEqual(['a', 'b']);
    expect(lanes.size).toBe(2);
    (await a)();
    (await b)();
  });

  it('one key under two agents is two sessions: their turns do not wait for each other', async () => {
    const lanes = createLanes();
    const t = tracker();
    const mainTurn = t.acquire(lanes.acquire({ agentId: 'main', key: 'shared-key' }, live()), 'main');
    const betaTurn = t.acquire(lanes.acquire({ agentId: 'beta', key: 'shared-key' }, live()), 'beta');
    const mainAgain = t.acquire(lanes.acquire({ agentId: 'main', key: 'shared-key' }, live()), 'main again');
    await settle();
    expect(t.granted.sort()).toEqual(['beta', 'main']);
    expect(lanes.size).toBe(2);
    (await mainTurn)();
    await settle();
    expect(t.granted).toContain('main again');
    (await betaTurn)();
    (await mainAgain)();
  });

  it('a turn aborted while waiting rejects and leaves the lane without blocking those behind it', async () => {
    const lanes = createLanes();
    const t = tracker();
    const first = t.acquire(lanes.acquire(main('k'), live()), 'first');
    const leaving = new AbortController();
    const second = lanes.acquire(main('k'), leaving.signal);
    const third = t.acquire(lanes.acquire(main('k'), live()), 'third');
    await settle();

    leaving.abort();
    await expect(second).rejects.toBeInstanceOf(RunAbortedError);
    await settle();
    // Still behind the first.
    expect(t.granted).toEqual(['first']);

    (await first)();
    await settle();
    expect(t.granted).toEqual(['first', 'third']);
    (await third)();
    await settle();
    expect(lanes.size).toBe(0);
  });

  it('an already-aborted signal rejects at once and blocks nobody', async () => {
    const lanes = createLanes();
    const aborted = AbortSignal.abort();
    await expect(lanes.acquire(main('k'), aborted)).rejects.toBeInstanceOf(RunAbortedError);
    const t = tracker();
    const next = t.acquire(lanes.acquire(main('k'), live()), 'next');
    await settle();
    expect(t.granted).toEqual(['next']);
    (await next)();
    await settle();
    expect(lanes.size).toBe(0);
  });

  it('releasing twice does not let a later turn overtake', async () => {
    const lanes = createLanes();
    const t = tracker();
    const release = await lanes.acquire(main('k'), live());
    const second = t.acquire(lanes.acquire(main('k'), live()), 'second');
    const third = t.acquire(lanes.acquire(main('k'), live()), 'third');
    release();
    release();
    await settle();
    expect(t.granted).toEqual(['second']);
    (await second)();
    (await third)();
  });

  it('size counts keys with a turn running or waiting and returns to 0 once all release', async () => {
    const lanes = createLanes();
    expect(lanes.size).toBe(0);
    const a1 = lanes.acquire(main('a'), live());
    const a2 = lanes.acquire(main('a'), live());
    const b1 = lanes.acquire(main('b'), live());
    expect(lanes.size).toBe(2);
    (await a1)();
    (await b1)();
    await settle();
    expect(lanes.size).toBe(1);
    (await a2)();
    await settle();
    expect(lanes.size).toBe(0);
  });
});
