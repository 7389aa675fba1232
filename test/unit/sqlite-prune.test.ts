/**
 * src/sessions/sqlite-prune.ts: `prune` deletes transcripts by kind and age (and agent),
 * never one with a running turn, counts without deleting on a dry run, works in batches
 * that let other work run in between, and gives the space back to the file system.
 */
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { TRANSACTION_BUDGET_MS, VACUUM_PAGES, createPruner, nextVacuumPages } from '../../src/sessions/sqlite-prune.js';
import { openSqliteStore } from '../../src/sessions/sqlite-store.js';
import type { SessionKind, SessionStore } from '../../src/sessions/store.js';

const DAY = 86_400_000;
const NOW = 100 * DAY;

const opened: SessionStore[] = [];
afterEach(async () => {
  for (const store of opened.splice(0)) await store.close();
});

function fresh(): { store: SessionStore; path: string } {
  const path = join(mkdtempSync(join(tmpdir(), 'moltbot-prune-')), 'sessions.sqlite');
  const store = openSqliteStore(path);
  opened.push(store);
  return { store, path };
}

/** A transcript of `turns` ok turns, last updated `daysAgo` before NOW. */
async function transcript(store: SessionStore, id: string, kind: SessionKind, daysAgo: number, options: { agentId?: string; turns?: number; text?: string } = {}): Promise<void> {
  const agentId = options.agentId ?? 'main';
  const session = { id, key: kind === 'stateless' ? `agent:${agentId}:openai:${id}` : `agent:${agentId}:${id}`, agentId, kind };
  const at = NOW - daysAgo * DAY;
  for (let i = 0; i < (options.turns ?? 1); i += 1) {
    const write = store.beginTurn({
      // A stateless transcript is continued by sending its key back: as an explicit key.
      session: i > 0 && kind === 'stateless' ? { ...session, kind: 'explicit' } : session,
      newTranscript: i === 0,
      expected: { sessionId: i === 0 ? undefined : id, turns: i },
      input: [{ role: 'user', content: options.text ?? `hello ${i}` }],
      startedAt: at,
    });
    await write.finish({ status: 'ok', reply: { role: 'assistant', content: options.text ?? 'hi' }, finishReason: 'stop', endedAt: at });
  }
}

const ids = async (store: SessionStore): Promise<string[]> => (await store.listSessions()).map((s) => s.id).sort();

describe('sqlite store: prune', () => {

  it('works in batches: other work runs between them', async () => {
    const { store } = fresh();
    for (let i = 0; i < 1000; i += 1) await transcript(store, `s-${String(i).padStart(4, '0')}`, 'stateless', 10);
    let settled = false;
    const pruning = store.prune({ olderThan: { stateless: DAY }, now: NOW }).finally(() => {
      settled = true;
    });
    // Scheduled after the prune started: runs at its first yield, long before its end.
    const ranBetween = await new Promise<boolean>((resolve) => setImmediate(() => resolve(!settled)));
    expect(ranBetween).toBe(true);
    expect(await pruning).toMatchObject({ sessions: 1000, turns: 1000 });
  });

  it('gives the freed space back to the file system (incremental vacuum)', async () => {
    const { store, path } = fresh();
    const text = 'z'.repeat(8 * 1024);
    for (let i = 0; i < 100; i += 1) await transcript(store, `big-${i}`, 'stateless', 10, { text, turns: 2 });
    await transcript(store, 'kept', 'user', 10);
    const db = new Database(path);
    try {
      const checkpointedSize = (): number => {
        db.pragma('wal_checkpoint(TRUNCATE)');
        return statSync(path).size;
      };
      expect(db.pragma('auto_vacuum', { simple: true })).toBe(2);
      const before = checkpointedSize();
      expect(before).toBeGreaterThan(3 * 1024 * 1024);
      const result = await store.prune({ olderThan: { stateless: DAY }, now: NOW });
      expect(result).toMatchObject({ sessions: 100, turns: 200 });
      expect(result.reclaimedBytes).toBeGreaterThan(3 * 1024 * 1024);
      const after = checkpointedSize();
      expect(after).toBeLessThan(before - 3 * 1024 * 1024);
      expect(db.pragma('freelist_count', { simple: true })).toBe(0);
      console.log(`sqlite-prune: file ${(before / 1024 / 1024).toFixed(1)} MiB -> ${(after / 1024 / 1024).toFixed(2)} MiB, reclaimed ${(result.reclaimedBytes / 1024 / 1024).toFixed(1)} MiB`);
    } finally {
      db.close();
    }
    expect(await ids(store)).toEqual(['kept']);
  });

  /**
   * A store of `count` old stateless transcripts of 8 KiB turns (space for the vacuum to give
   * back), closed, and a pruner on a connection of its own whose clock moves `tick` ms at every reading.
   */
  async function pruneWithClock(count: number, tick: number) {
    const { store, path } = fresh();
    const text = 'z'.repeat(8 * 1024);
    for (let i = 0; i < count; i += 1) await transcript(store, `t-${String(i).padStart(4, '0')}`, 'stateless', 10, { text });
    await store.close();
    opened.splice(opened.indexOf(store), 1);
    const db = new Database(path);
    try {
      let now = 0;
      const prune = createPruner(db, undefined, undefined, () => (now += tick));
      const result = await prune({ olderThan: { stateless: DAY }, now: NOW });
      return { result, freelistAfter: db.pragma('freelist_count', { simple: true }) as number, pageSize: db.pragma('page_size', { simple: true }) as number };
    } finally {
      db.close();
    }
  }

  it('keeps each transaction within its time budget: one transcript per delete, the smallest vacuum steps, when every reading of the clock is over it', async () => {
    const slow = await pruneWithClock(120, TRANSACTION_BUDGET_MS + 1);
    const fast = await pruneWithClock(120, 0);
    expect(slow.result).toMatchObject({ sessions: 120, turns: 120 });
    expect(fast.result).toMatchObject({ sessions: 120, turns: 120 });
    expect([slow.freelistAfter, fast.freelistAfter]).toEqual([0, 0]);
    const pace = { slow: slow.result.pace, fast: fast.result.pace };
    // A clock that never moves: 50 deletes a transaction (3 for 120), vacuum steps doubling from 16 pages.
    expect(pace.fast?.transactions).toBeLessThan(3 + 12);
    // Over the budget at every reading: a delete a transaction, and every vacuum step of the fewest pages.
    const pagesGivenBack = slow.result.reclaimedBytes / slow.pageSize;
    expect(pagesGivenBack).toBeGreaterThan(100);
    // (a vacuum also gives back the pointer-map pages it emptied: fewer steps than pages / min; twice the min fails)
    expect(pace.slow?.transactions).toBeGreaterThan(120 + Math.floor(pagesGivenBack / (2 * VACUUM_PAGES.min)));
    expect(pace.slow?.longestStepMs).toBeGreaterThan(TRANSACTION_BUDGET_MS);
    console.log(`sqlite-prune budget: ${pace.fast?.transactions} transactions with a still clock, ${pace.slow?.transactions} with every step over ${TRANSACTION_BUDGET_MS} ms`);
  });

  it('sizes each vacuum step from the last one: to fit the budget, at most doubling, within bounds', () => {
    expect(nextVacuumPages(16, 0)).toBe(32);
    expect(nextVacuumPages(16, TRANSACTION_BUDGET_MS / 4)).toBe(32);
    expect(nextVacuumPages(128, 40)).toBe(Math.floor((128 * TRANSACTION_BUDGET_MS) / 40));
    expect(nextVacuumPages(128, 10_000)).toBe(VACUUM_PAGES.min);
    expect(nextVacuumPages(VACUUM_PAGES.max, 0)).toBe(VACUUM_PAGES.max);
  });
});
