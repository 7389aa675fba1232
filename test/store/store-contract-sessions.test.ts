/**
 * The store contract for what a client may do to a session (the WebSocket protocol's
 * `sessions.reset` and `sessions.delete`): `resetSession` starts a new empty transcript
 * that the next turn continues, the old one kept; `deleteSession` deletes every
 * transcript of the (agent, key) with their turns, leaves other agents' and keys'
 * alone, and refuses (`SessionConflict`, nothing deleted) while another live process
 * runs a turn in it. On both stores.
 */
import { describe, expect, it } from 'vitest';
import { SessionConflict } from '../../src/sessions/store.js';
import { STORES } from './stores.js';
import { OK, readAndBegin } from './contract-support.js';

const KEY = 'agent:main:desk';

describe.each(STORES)('$name store: resetSession and deleteSession', ({ skip, location }) => {
  it.skipIf(skip)('resetSession: a new empty current transcript; the next turn continues it as seq 1; the old one stays readable', async () => {
    const store = await location().open();
    await store.beginTurn(await readAndBegin(store, KEY, 'before')).finish(OK);
    const old = await store.currentSession('main', KEY);
    const fresh = await store.resetSession({ id: 'reset-transcript-1', key: KEY, agentId: 'main', kind: 'explicit' }, 5000);
    expect(fresh).toEqual({ id: 'reset-transcript-1', key: KEY, agentId: 'main', kind: 'explicit', createdAt: 5000, updatedAt: 5000, turns: 0, lastStatus: null });
    expect(await store.currentSession('main', KEY)).toEqual(fresh);
    expect(await store.loadTurns('main', KEY)).toEqual([]);
    const next = await readAndBegin(store, KEY, 'after');
    expect(next.expected).toMatchObject({ sessionId: 'reset-transcript-1', turns: 0 });
    expect(await store.beginTurn(next).started).toEqual({ sessionId: 'reset-transcript-1', seq: 1 });
    const history = await store.sessionHistory(KEY, { agentId: 'main' });
    expect(history.map((h) => [h.session.id, h.turns.length])).toEqual([[old?.id, 1], ['reset-transcript-1', 1]]);
  });

  it.skipIf(skip)("deleteSession: every transcript of the agent's key goes, with its turns; other agents and keys stay; unknown is false", async () => {
    const store = await location().open();
    await store.beginTurn(await readAndBegin(store, KEY, 'one')).finish(OK);
    await store.resetSession({ id: 'reset-transcript-2', key: KEY, agentId: 'main', kind: 'explicit' }, 5000);
    await store.beginTurn(await readAndBegin(store, KEY, 'two')).finish(OK);
    const other = await readAndBegin(store, 'agent:main:other', 'keep me');
    await store.beginTurn(other).finish(OK);
    const beta = { ...(await readAndBegin(store, KEY, 'beta')), session: { id: 'beta-transcript', key: KEY, agentId: 'beta', kind: 'explicit' as const } };
    await store.beginTurn({ ...beta, newTranscript: true, expected: { sessionId: undefined, turns: 0 } }).finish(OK);
    expect(await store.deleteSession('main', KEY)).toBe(true);
    expect(await store.sessionHistory(KEY, { agentId: 'main' })).toEqual([]);
    expect(await store.currentSession('main', KEY)).toBeUndefined();
    expect(await store.loadTurns('main', 'agent:main:other')).toHaveLength(1);
    expect(await store.loadTurns('beta', KEY)).toHaveLength(1);
    expect(await store.deleteSession('main', KEY)).toBe(false);
    // The key starts afresh.
    expect(await store.beginTurn(await readAndBegin(store, KEY, 'again')).started).toMatchObject({ seq: 1 });
  });

  it.skipIf(skip)('deleteSession refuses while another process runs a turn in the session; nothing is deleted', async () => {
    const where = location();
    const [gateway, cli] = [await where.open(), await where.open()];
    await gateway.beginTurn(await readAndBegin(gateway, KEY, 'done')).finish(OK);
    const running = gateway.beginTurn(await readAndBegin(gateway, KEY, 'running'));
    await running.started;
    await expect(cli.deleteSession('main', KEY)).rejects.toBeInstanceOf(SessionConflict);
    expect(await cli.loadTurns('main', KEY)).toHaveLength(2);
    await running.finish(OK);
    expect(await cli.deleteSession('main', KEY)).toBe(true);
  });
});
