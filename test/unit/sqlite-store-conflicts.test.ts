/**
 * src/sessions/sqlite-store.ts, across processes: `beginTurn` begins a turn only on the
 * session as the turn read it (`expected`) and while no other live instance runs a turn
 * in it; otherwise it rejects with `SessionConflict` and writes nothing. Two stores on one
 * file stand for two processes (each has its own connection and instance lock).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../src/sessions/sqlite-store.js';
import { SessionConflict, type BeginTurn, type SessionStore, type TranscriptMessage } from '../../src/sessions/store.js';

const u = (content: string): TranscriptMessage => ({ role: 'user', content });
const a = (content: string): TranscriptMessage => ({ role: 'assistant', content });
const KEY = 'agent:main:desk';

const opened: SessionStore[] = [];
afterEach(async () => {
  for (const store of opened.splice(0)) await store.close();
});

function twoProcesses(): [SessionStore, SessionStore] {
  const path = join(mkdtempSync(join(tmpdir(), 'moltbot-conflict-')), 'sessions.sqlite');
  const pair: [SessionStore, SessionStore] = [openSqliteStore(path), openSqliteStore(path)];
  opened.push(...pair);
  return pair;
}

/** A turn start on KEY built on the session as `store` shows it now (as the core reads it). */
async function readAndBegin(store: SessionStore, content: string, kind: BeginTurn['session']['kind'] = 'explicit'): Promise<BeginTurn> {
  const current = await store.currentSession('main', KEY);
  return {
    session: { id: current?.id ?? `t-${content}`, key: KEY, agentId: 'main', kind },
    newTranscript: current === undefined,
    expected: { sessionId: current?.id, turns: current?.turns ?? 0 },
    input: [u(content)],
    startedAt: 1000,
  };
}

const ok = { status: 'ok' as const, reply: a('fine'), finishReason: 'stop' as const, endedAt: 2000 };

describe('beginTurn across processes', () => {
  it('refuses a turn read before another process added one (its history is stale); nothing is written', async () => {
    const [gateway, cli] = twoProcesses();
    await gateway.beginTurn(await readAndBegin(gateway, 'first')).finish(ok);
    const stale = await readAndBegin(cli, 'from the cli');
    await gateway.beginTurn(await readAndBegin(gateway, 'second')).finish(ok);

    await expect(cli.beginTurn(stale).started).rejects.toBeInstanceOf(SessionConflict);
    // Folded with its outcome (a JSON turn that ended before its start was written): refused as well.
    await expect(cli.beginTurn(stale).finish(ok)).rejects.toBeInstanceOf(SessionConflict);
    expect((await gateway.loadTurns('main', KEY)).map((t) => t.input[0]?.content)).toEqual(['first', 'second']);
    // Read again, it begins as turn 3.
    expect(await cli.beginTurn(await readAndBegin(cli, 'from the cli')).started).toMatchObject({ seq: 3 });
  });

  it('refuses a first turn when another process created the transcript meanwhile (both saw none)', async () => {
    const [gateway, cli] = twoProcesses();
    const [mine, theirs] = [await readAndBegin(gateway, 'mine'), await readAndBegin(cli, 'theirs')];
    await gateway.beginTurn(mine).finish(ok);
    await expect(cli.beginTurn(theirs).started).rejects.toBeInstanceOf(SessionConflict);
    expect(await gateway.sessionHistory(KEY)).toHaveLength(1);
  });

  it('refuses while another live process runs a turn in the session; once that process is gone, its turn is interrupted and the next begins', async () => {
    const [gateway, cli] = twoProcesses();
    await gateway.beginTurn(await readAndBegin(gateway, 'slow gateway turn')).started;
    expect(await cli.runningElsewhere('main', KEY)).toBe(true);
    expect(await gateway.runningElsewhere('main', KEY)).toBe(false);
    expect(await cli.runningElsewhere('beta', KEY)).toBe(false);
    // Read while the gateway's turn runs: the turn count matches, but the turn is not done.
    const waiting = await readAndBegin(cli, 'cli turn');
    await expect(cli.beginTurn(waiting).started).rejects.toThrow(new SessionConflict('another process is running a turn in the session'));

    // The gateway process dies with its turn running (its instance lock released).
    await gateway.close();
    expect(await cli.runningElsewhere('main', KEY)).toBe(false);
    expect(await cli.beginTurn(waiting).started).toMatchObject({ seq: 2 });
    expect((await cli.loadTurns('main', KEY)).map((t) => [t.seq, t.status])).toEqual([
      [1, 'interrupted'],
      [2, 'running'],
    ]);
  });

  it('does not look up a stateless session (its key was minted for the turn)', async () => {
    const [gateway] = twoProcesses();
    const turn = await readAndBegin(gateway, 'one-off', 'stateless');
    // Even a made-up expectation passes: nobody else can know the key.
    await expect(gateway.beginTurn({ ...turn, expected: { sessionId: 'anything', turns: 7 } }).started).resolves.toMatchObject({ seq: 1 });
  });
});
