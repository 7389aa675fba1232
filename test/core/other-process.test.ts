/**
 * A turn whose session has a turn running in another process (here: a second store on
 * the same file, with its own instance) waits for it, and that wait is bounded like the
 * rest of the turn: by the agent's `timeoutSeconds` (504 `run_timeout`) and by the client
 * leaving. A turn that never began leaves nothing in the transcript.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../src/sessions/sqlite-store.js';
import type { SessionStore } from '../../src/sessions/store.js';
import { readCompletion, readError } from '../helpers/read.js';
import { assistant, chat, messagesOf, roundTrip, startCore, system, user, type CoreSetup } from './support.js';

const KEY = 'agent:main:busy-desk';

let setup: CoreSetup | undefined;
let other: SessionStore | undefined;
afterEach(async () => {
  await other?.close();
  other = undefined;
  await setup?.close();
  setup = undefined;
});

/** A gateway on a fresh store, and another "process" that begins a turn in KEY and keeps it running. */
async function busySession(timeoutSeconds?: number): Promise<{ setup: CoreSetup; other: SessionStore; finishOther: () => Promise<void>; waiting: Promise<void> }> {
  const storePath = join(mkdtempSync(join(tmpdir(), 'moltbot-other-')), 'sessions.sqlite');
  let waited!: () => void;
  const waiting = new Promise<void>((resolve) => {
    waited = resolve;
  });
  setup = await startCore({
    storePath,
    onSessionWait: () => waited(),
    ...(timeoutSeconds === undefined ? {} : { edit: (file) => ((file.agents?.list ?? [])[0] = { ...file.agents?.list?.[0], id: 'main', timeoutSeconds }) }),
  });
  other = openSqliteStore(storePath);
  const write = other.beginTurn({
    session: { id: 'other-transcript', key: KEY, agentId: 'main', kind: 'explicit' },
    newTranscript: true,
    expected: { sessionId: undefined, turns: 0 },
    input: [{ role: 'user', content: 'from the other process' }],
    startedAt: Date.now(),
  });
  await write.started;
  const store = other;
  return {
    setup,
    other: store,
    finishOther: () => write.finish({ status: 'ok', reply: { role: 'assistant', content: 'other reply' }, finishReason: 'stop', endedAt: Date.now() }),
    waiting,
  };
}

describe("a turn while another process runs one in the session", () => {
  it('waits for it, then runs on the history that includes it', async () => {
    const { setup, finishOther, waiting } = await busySession();
    const pending = chat(setup.gateway, { key: KEY, content: 'mine' });
    // It waits (it is neither refused nor run on stale history) until the other turn finishes.
    await waiting;
    await finishOther();
    expect((await readCompletion(await pending)).choices[0]?.message.content).toBe('Hello from upstream');
    const answered = setup.upstream.requests.filter((request) => request.closedAt === undefined).at(-1);
    expect(messagesOf(answered as never)).toEqual([system(), user('from the other process'), assistant('other reply'), user('mine')]);
    expect((await setup.gateway.store.loadTurns('main', KEY)).map((t) => [t.seq, t.status])).toEqual([
      [1, 'ok'],
      [2, 'ok'],
    ]);
  });

  it('ends with 504 run_timeout when the wait outlasts timeoutSeconds, leaving nothing in the transcript', async () => {
    const { setup, waiting } = await busySession(1);
    const response = chat(setup.gateway, { key: KEY, content: 'too patient' });
    await waiting;
    const error = await readError(await response, 504);
    expect(error.code).toBe('run_timeout');
    expect((await setup.gateway.store.loadTurns('main', KEY)).map((t) => [t.seq, t.status, t.input[0]?.content])).toEqual([[1, 'running', 'from the other process']]);
  });

  it('ends when the client leaves while it waits, leaving nothing in the transcript', async () => {
    const { setup, finishOther, waiting } = await busySession();
    const leaving = new AbortController();
    const pending = chat(setup.gateway, { key: KEY, content: 'gone', signal: leaving.signal });
    await waiting;
    leaving.abort();
    await expect(pending).rejects.toThrow();
    await roundTrip(setup.gateway);
    await finishOther();
    // The next turn runs at once: the one that left holds nothing up.
    expect((await readCompletion(await chat(setup.gateway, { key: KEY, content: 'next' }))).choices[0]?.message.content).toBe('Hello from upstream');
    expect((await setup.gateway.store.loadTurns('main', KEY)).map((t) => t.input[0]?.content)).toEqual(['from the other process', 'next']);
  });
});
