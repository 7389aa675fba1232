import { describe, expect, it } from 'vitest';
import { createHistoryCache } from '../../src/agents/history-cache.js';
import type { SessionInfo, Turn } from '../../src/sessions/store.js';

const session = (id: string, turns: number, updatedAt: number): SessionInfo => ({ id, key: `k-${id}`, agentId: 'main', kind: 'user', createdAt: 0, updatedAt, turns, lastStatus: 'ok' });
const turn = (seq: number): Turn => ({ sessionId: 's', sessionKey: 'k-s', agentId: 'main', seq, input: [{ role: 'user', content: `u${seq}` }], reply: { role: 'assistant', content: `a${seq}` }, status: 'ok', startedAt: seq, endedAt: seq });

describe('history cache', () => {
  it('answers only while the store shows the transcript as it was left', () => {
    const cache = createHistoryCache();
    cache.set(session('s', 2, 20), [turn(1), turn(2)]);
    expect(cache.get(session('s', 2, 20))?.map((t) => t.seq)).toEqual([1, 2]);
    expect(cache.get(session('s', 3, 20))).toBeUndefined();
    expect(cache.get(session('s', 2, 21))).toBeUndefined();
    expect(cache.get(session('other', 2, 20))).toBeUndefined();
  });

  it('adds the next ok turn, counts failed ones, keeps at most `keep`, and forgets on a gap', () => {
    const cache = createHistoryCache();
    cache.set(session('s', 2, 20), [turn(1), turn(2)]);
    cache.written('s', 3, 30, turn(3), 2);
    expect(cache.get(session('s', 3, 30))?.map((t) => t.seq)).toEqual([2, 3]);
    cache.written('s', 4, 40, undefined, 2);
    expect(cache.get(session('s', 4, 40))?.map((t) => t.seq)).toEqual([2, 3]);
    // Seq 6 after 4: someone else wrote seq 5.
    cache.written('s', 6, 60, turn(6), 2);
    expect(cache.get(session('s', 6, 60))).toBeUndefined();
    // A transcript it never held stays unknown.
    cache.written('new', 1, 10, turn(1), 2);
    expect(cache.get(session('new', 1, 10))).toBeUndefined();
  });

  it('drops the least recently used transcript beyond 256', () => {
    const cache = createHistoryCache();
    for (let i = 0; i < 256; i += 1) cache.set(session(`s${i}`, 1, 1), [turn(1)]);
    expect(cache.get(session('s0', 1, 1))).toBeDefined();
    cache.set(session('s256', 1, 1), [turn(1)]);
    expect(cache.get(session('s1', 1, 1))).toBeUndefined();
    expect(cache.get(session('s0', 1, 1))).toBeDefined();
    expect(cache.get(session('s256', 1, 1))).toBeDefined();
  });

  it('holds as many transcripts as asked (the core asks for its run limit), never fewer than 256', () => {
    const cache = createHistoryCache(2048);
    for (let i = 0; i < 2048; i += 1) cache.set(session(`s${i}`, 1, 1), [turn(1)]);
    expect(cache.get(session('s0', 1, 1))).toBeDefined();
    cache.set(session('s2048', 1, 1), [turn(1)]);
    expect(cache.get(session('s1', 1, 1))).toBeUndefined();
    expect(cache.get(session('s2', 1, 1))).toBeDefined();

    const small = createHistoryCache(4);
    for (let i = 0; i < 256; i += 1) small.set(session(`s${i}`, 1, 1), [turn(1)]);
    expect(small.get(session('s0', 1, 1))).toBeDefined();
  });
});
