/**
 * The store contract, continued, for what several processes share: `beginTurn` begins a
 * turn only on the session as the turn read it and while no other live instance runs a
 * turn in it (else `SessionConflict`, nothing written); retention (`prune`); idempotency
 * keys. Two stores opened on one location stand for two processes (SQLite: two
 * connections and instance locks on one file; PostgreSQL: two replicas on one schema).
 */
import { describe, expect, it } from 'vitest';
import { SessionConflict, type BeginTurn, type InterruptedTurn, type SessionKind, type SessionStore } from '../../src/sessions/store.js';
import { STORES } from './stores.js';
import { OK, readAndBegin } from './contract-support.js';

const KEY = 'agent:main:desk';
const DAY = 86_400_000;
const NOW = 100 * DAY;

describe.each(STORES)('$name store: beginTurn across processes', ({ skip, location }) => {
  it.skipIf(skip)('refuses a turn read before another process added one; nothing is written; read again it begins', async () => {
    const where = location();
    const [gateway, cli] = [await where.open(), await where.open()];
    await gateway.beginTurn(await readAndBegin(gateway, KEY, 'first')).finish(OK);
    const stale = await readAndBegin(cli, KEY, 'from the cli');
    await gateway.beginTurn(await readAndBegin(gateway, KEY, 'second')).finish(OK);
    await expect(cli.beginTurn(stale).started).rejects.toBeInstanceOf(SessionConflict);
    await expect(cli.beginTurn(stale).finish(OK)).rejects.toBeInstanceOf(SessionConflict);
    expect((await gateway.loadTurns('main', KEY)).map((t) => t.input[0]?.content)).toEqual(['first', 'second']);
    expect(await cli.beginTurn(await readAndBegin(cli, KEY, 'from the cli')).started).toMatchObject({ seq: 3 });
  });

  it.skipIf(skip)("refuses a turn read while another process's turn ran, when that turn has ended since (same count, its history lacks the turn)", async () => {
    const where = location();
    const [gateway, cli] = [await where.open(), await where.open()];
    await gateway.beginTurn(await readAndBegin(gateway, KEY, 'first')).finish(OK);
    const runningWrite = gateway.beginTurn(await readAndBegin(gateway, KEY, 'second'));
    await runningWrite.started;
    const readMeanwhile = await readAndBegin(cli, KEY, 'third');
    await runningWrite.finish(OK);
    await expect(cli.beginTurn(readMeanwhile).started).rejects.toBeInstanceOf(SessionConflict);
    expect(await cli.beginTurn(await readAndBegin(cli, KEY, 'third')).started).toMatchObject({ seq: 3 });
  });

  it.skipIf(skip)('refuses a first turn when another process created the transcript meanwhile (both saw none)', async () => {
    const where = location();
    const [gateway, cli] = [await where.open(), await where.open()];
    const [mine, theirs] = [await readAndBegin(gateway, KEY, 'mine'), await readAndBegin(cli, KEY, 'theirs')];
    await gateway.beginTurn(mine).finish(OK);
    await expect(cli.beginTurn(theirs).started).rejects.toBeInstanceOf(SessionConflict);
    expect(await gateway.sessionHistory(KEY)).toHaveLength(1);
  });

  it.skipIf(skip)('two processes starting the same turn at once: exactly one begins', async () => {
    const where = location();
    const [one, two] = [await where.open(), await where.open()];
    await one.beginTurn(await readAndBegin(one, KEY, 'first')).finish(OK);
    const [a, b] = [await readAndBegin(one, KEY, 'a'), await readAndBegin(two, KEY, 'b')];
    const results = await Promise.allSettled([one.beginTurn(a).started, two.beginTurn(b).started]);
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    expect((results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason).toBeInstanceOf(SessionConflict);
    expect((await one.loadTurns('main', KEY)).map((t) => t.seq)).toEqual([1, 2]);
  });

  it.skipIf(skip)('refuses while another live process runs a turn in the session; once it is gone, its turn is interrupted and the next begins', async () => {
    const where = location();
    const gateway = await where.openUnmanaged();
    const cli = await where.open();
    await gateway.beginTurn(await readAndBegin(gateway, KEY, 'slow gateway turn')).started;
    expect(await cli.runningElsewhere('main', KEY)).toBe(true);
    expect(await gateway.runningElsewhere('main', KEY)).toBe(false);
    expect(await cli.runningElsewhere('beta', KEY)).toBe(false);
    const waiting = await readAndBegin(cli, KEY, 'cli turn');
    await expect(cli.beginTurn(waiting).started).rejects.toThrow(new SessionConflict('another process is running a turn in the session'));
    await gateway.close();
    expect(await cli.runningElsewhere('main', KEY)).toBe(false);
    expect(await cli.beginTurn(waiting).started).toMatchObject({ seq: 2 });
    expect((await cli.loadTurns('main', KEY)).map((t) => [t.seq, t.status])).toEqual([
      [1, 'interrupted'],
      [2, 'running'],
    ]);
  });

  it.skipIf(skip)("turns of a process that is gone, interrupted at a turn's start in their session or by a store opened without a listener, are each told once to a listening store", async () => {
    const where = location();
    const told: InterruptedTurn[] = [];
    const onInterrupted = (turns: readonly InterruptedTurn[]): void => void told.push(...turns);
    const gateway = await where.openUnmanaged();
    const cut = await gateway.beginTurn(await readAndBegin(gateway, KEY, 'cut')).started;
    const left = await gateway.beginTurn(await readAndBegin(gateway, 'agent:main:left', 'left alone')).started;
    const cli = await where.open({ onInterrupted });
    expect(told).toEqual([]);
    await gateway.close();
    const waiting = await readAndBegin(cli, KEY, 'cli turn');
    const stale = { ...(await readAndBegin(cli, 'agent:main:other', 'stale')), expected: { sessionId: 'gone', turns: 5 } };
    // Written together (one SQLite transaction, rolled back for the refused one, then each
    // alone): the marking rolled back with the batch is not told twice.
    const [next, refused] = [cli.beginTurn(waiting).started, cli.beginTurn(stale).started];
    await expect(refused).rejects.toBeInstanceOf(SessionConflict);
    expect(await next).toMatchObject({ seq: 2 });
    // Opened without a listener (as `moltbot sessions` is): marks the other dead turn at its open (SQLite) or sweep, tells nobody.
    const silent = await where.open();
    expect((await silent.loadTurns('main', 'agent:main:left')).map((t) => t.status)).toEqual(['interrupted']);
    // The next store that listens takes what was marked without one: at its open (PostgreSQL: at a sweep, one at its open).
    const late = await where.open({ onInterrupted });
    for (const store of [cli, late, silent, cli]) await (store as { sweep?: () => Promise<void> }).sweep?.();
    const byRef = (x: InterruptedTurn, y: InterruptedTurn): number => x.sessionId.localeCompare(y.sessionId);
    expect(told.sort(byRef)).toEqual([{ agentId: 'main', ...cut }, { agentId: 'main', ...left }].sort(byRef));
  });

  it.skipIf(skip)('does not look up a stateless session (its key was minted for the turn)', async () => {
    const gateway = await location().open();
    const turn = await readAndBegin(gateway, KEY, 'one-off', 'stateless');
    await expect(gateway.beginTurn({ ...turn, expected: { sessionId: 'anything', turns: 7 } }).started).resolves.toMatchObject({ seq: 1 });
  });
});

/** A transcript of `turns` ok turns, last updated `daysAgo` before NOW. */
async function transcript(store: SessionStore, id: string, kind: SessionKind, daysAgo: number, options: { agentId?: string; turns?: number } = {}): Promise<void> {
  const agentId = options.agentId ?? 'main';
  const session = { id, key: kind === 'stateless' ? `agent:${agentId}:openai:${id}` : `agent:${agentId}:${id}`, agentId, kind };
  const at = NOW - daysAgo * DAY;
  for (let i = 0; i < (options.turns ?? 1); i += 1) {
    const write = store.beginTurn({
      session: i > 0 && kind === 'stateless' ? { ...session, kind: 'explicit' } : session,
      newTranscript: i === 0,
      expected: { sessionId: i === 0 ? undefined : id, turns: i },
      input: [{ role: 'user', content: `hello ${i}` }],
      startedAt: at,
    });
    await write.finish({ status: 'ok', reply: { role: 'assistant', content: 'hi' }, finishReason: 'stop', endedAt: at });
  }
}

const ids = async (store: SessionStore): Promise<string[]> => (await store.listSessions()).map((s) => s.id).sort();

describe.each(STORES)('$name store: prune', ({ skip, location }) => {
  it.skipIf(skip)('deletes the transcripts of the listed kinds older than their age, with their turns (per agent with agentId); keeps the rest', async () => {
    const store = await location().open();
    await transcript(store, 'old-stateless', 'stateless', 8);
    await transcript(store, 'new-stateless', 'stateless', 6);
    await transcript(store, 'old-user', 'user', 400, { turns: 3 });
    await transcript(store, 'old-explicit', 'explicit', 30, { turns: 2 });
    await transcript(store, 'beta-1', 'stateless', 10, { agentId: 'beta' });
    expect(await store.prune({ olderThan: { stateless: 7 * DAY }, agentId: 'main', now: NOW })).toMatchObject({ sessions: 1, turns: 1 });
    expect(await ids(store)).toEqual(['beta-1', 'new-stateless', 'old-explicit', 'old-user']);
    expect(await store.loadTurns('main', 'agent:main:openai:old-stateless')).toEqual([]);
    expect(await store.prune({ olderThan: { user: 365 * DAY, explicit: 31 * DAY }, now: NOW })).toMatchObject({ sessions: 1, turns: 3 });
    expect(await store.prune({ olderThan: { stateless: 0, explicit: 0 }, now: NOW })).toMatchObject({ sessions: 3, turns: 4 });
    expect(await ids(store)).toEqual([]);
  });

  it.skipIf(skip)('never deletes a transcript with a running turn; a dry run counts and deletes nothing', async () => {
    const store = await location().open();
    await transcript(store, 'busy', 'explicit', 50, { turns: 2 });
    await store.beginTurn({
      session: { id: 'busy', key: 'agent:main:busy', agentId: 'main', kind: 'explicit' },
      newTranscript: false,
      expected: { sessionId: 'busy', turns: 2 },
      input: [{ role: 'user', content: 'still going' }],
      startedAt: NOW - 50 * DAY,
    }).started;
    await transcript(store, 'idle', 'explicit', 50, { turns: 2 });
    await transcript(store, 'other', 'explicit', 50);
    expect(await store.prune({ olderThan: { explicit: 0 }, dryRun: true, now: NOW })).toEqual({ sessions: 2, turns: 3, reclaimedBytes: 0 });
    expect(await ids(store)).toEqual(['busy', 'idle', 'other']);
    expect(await store.prune({ olderThan: { explicit: 0 }, now: NOW })).toMatchObject({ sessions: 2, turns: 3 });
    expect(await ids(store)).toEqual(['busy']);
    expect((await store.loadTurns('main', 'agent:main:busy')).map((t) => t.status)).toEqual(['ok', 'ok', 'running']);
  });
});

describe.each(STORES)('$name store: idempotency keys', ({ skip, location }) => {
  const SCOPE = 'http:chat.completions';
  const request = (key: string, fingerprint = 'f1', now = NOW) => ({ scope: SCOPE, key, fingerprint, now });
  /** A turn on session `session` claiming `key` with its start (as the core begins one). */
  const keyed = async (store: SessionStore, session: string, key: string, fingerprint = 'f1', startedAt = NOW, payload?: unknown): Promise<BeginTurn> => ({
    ...(await readAndBegin(store, `agent:main:${session}`, session)),
    startedAt,
    idempotency: { scope: SCOPE, key, fingerprint, ...(payload === undefined ? {} : { payload }) },
  });
  const taken = (state: string) => expect.objectContaining({ name: 'IdempotencyKeyTaken', state });

  it.skipIf(skip)('the first claim wins; a repeat sees it running, then done with its result; another request under the key is a mismatch', async () => {
    const where = location();
    const [one, two] = [await where.open(), await where.open()];
    expect(await two.lookupIdempotencyKey(request('k1'))).toEqual({ state: 'free' });
    const first = one.beginTurn(await keyed(one, 's1', 'k1', 'f1', NOW, { id: 'chatcmpl-1', created: 5 }));
    const ref = await first.started;
    expect(await two.lookupIdempotencyKey(request('k1'))).toEqual({ state: 'running' });
    expect(await one.lookupIdempotencyKey(request('k1'))).toEqual({ state: 'running' });
    expect(await two.lookupIdempotencyKey(request('k1', 'other body'))).toEqual({ state: 'mismatch' });
    // A second turn under the key is refused in its start's write, and nothing of it is written.
    await expect(two.beginTurn(await keyed(two, 's2', 'k1')).started).rejects.toEqual(taken('running'));
    await expect(two.beginTurn(await keyed(two, 's2', 'k1', 'other body')).started).rejects.toEqual(taken('mismatch'));
    expect(await two.loadTurns('main', 'agent:main:s2')).toEqual([]);
    await first.finish({ ...OK, endedAt: NOW + 1 });
    const result = { turn: ref, payload: { id: 'chatcmpl-1', created: 5 } };
    expect(await two.lookupIdempotencyKey(request('k1'))).toEqual({ state: 'done', result });
    await expect(two.beginTurn(await keyed(two, 's2', 'k1')).started).rejects.toEqual(taken('done'));
    // Another scope is another key space.
    expect(await two.lookupIdempotencyKey({ ...request('k1'), scope: 'ws:agent' })).toEqual({ state: 'free' });
  });

  it.skipIf(skip)('two processes starting turns under one key at once: exactly one begins', async () => {
    const where = location();
    const [one, two] = [await where.open(), await where.open()];
    const [a, b] = [await keyed(one, 'race-a', 'k3'), await keyed(two, 'race-b', 'k3')];
    const results = await Promise.allSettled([one.beginTurn(a).started, two.beginTurn(b).started]);
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    expect((results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason).toEqual(taken('running'));
    const turns = [...(await one.loadTurns('main', 'agent:main:race-a')), ...(await one.loadTurns('main', 'agent:main:race-b'))];
    expect(turns).toHaveLength(1);
  });

  it.skipIf(skip)('a key whose turn failed is free again; a turn written whole settles its key too; a key expires after 10 minutes; a key held by a process that is gone is free', async () => {
    const where = location();
    const one = await where.openUnmanaged();
    const two = await where.open();
    const failed = one.beginTurn(await keyed(one, 's3', 'k2'));
    await failed.started;
    await failed.finish({ status: 'error', error: { type: 'upstream_error', code: null, message: 'no' }, endedAt: NOW + 1 });
    expect(await two.lookupIdempotencyKey(request('k2'))).toEqual({ state: 'free' });
    // Start and end in one write (a store may merge them): the key is claimed and completed in it.
    await two.beginTurn(await keyed(two, 's4', 'k2', 'f1', NOW, { n: 1 })).finish({ ...OK, endedAt: NOW + 2 });
    expect(await one.lookupIdempotencyKey(request('k2', 'f1', NOW + 9 * 60_000))).toMatchObject({ state: 'done', result: { payload: { n: 1 } } });
    expect(await one.lookupIdempotencyKey(request('k2', 'f2', NOW + 11 * 60_000))).toEqual({ state: 'free' });
    await one.beginTurn(await keyed(one, 's5', 'k2', 'f2', NOW + 11 * 60_000)).started;
    expect(await two.lookupIdempotencyKey(request('k2', 'f2', NOW + 11 * 60_000))).toEqual({ state: 'running' });
    // `one` dies holding k2: the same request may run again.
    await one.close();
    expect(await two.lookupIdempotencyKey(request('k2', 'f2', NOW + 11 * 60_000 + 1))).toEqual({ state: 'free' });
    await two.beginTurn(await keyed(two, 's6', 'k2', 'f2', NOW + 11 * 60_000 + 1)).started;
  });
});
