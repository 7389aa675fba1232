/** Turns for the store contract suite, written the way the agent core writes them. */
import type { BeginTurn, SessionKind, SessionStore, TranscriptMessage, TurnRef } from '../../src/sessions/store.js';

export const u = (content: string): TranscriptMessage => ({ role: 'user', content });
export const a = (content: string): TranscriptMessage => ({ role: 'assistant', content });

/** A turn start; `expected` says the session has no transcript yet unless given. */
export function begin(overrides: Partial<BeginTurn> & { id?: string; key?: string; agentId?: string; kind?: SessionKind } = {}): BeginTurn {
  const { id = 'sess-1', key = 'agent:main:k', agentId = 'main', kind = 'explicit', ...rest } = overrides;
  return { session: { id, key, agentId, kind }, newTranscript: true, expected: { sessionId: undefined, turns: 0 }, input: [u('hi')], startedAt: 1000, ...rest };
}

/** `b` with `expected` read from the store now, as the core reads it before a turn. */
export async function asRead(store: SessionStore, b: BeginTurn): Promise<BeginTurn> {
  const current = await store.currentSession(b.session.agentId, b.session.key);
  return { ...b, expected: { sessionId: current?.id, turns: current?.turns ?? 0, lastStatus: current?.lastStatus ?? null } };
}

/** Begins (on the session as it is now) and finishes one turn with the given status. */
export async function turn(store: SessionStore, b: BeginTurn, status: 'ok' | 'error' | 'aborted' | 'timeout', replyText: string, endedAt: number): Promise<TurnRef> {
  const refWrite = store.beginTurn(await asRead(store, b));
  const ref = await refWrite.started;
  await refWrite.finish({ status, reply: a(replyText), ...(status === 'ok' ? { finishReason: 'stop' as const } : {}), endedAt });
  return ref;
}

/** A turn start on `key` built on the session as `store` shows it now. */
export async function readAndBegin(store: SessionStore, key: string, content: string, kind: SessionKind = 'explicit'): Promise<BeginTurn> {
  const current = await store.currentSession('main', key);
  return {
    session: { id: current?.id ?? `t-${content.replaceAll(' ', '-')}`, key, agentId: 'main', kind },
    newTranscript: current === undefined,
    expected: { sessionId: current?.id, turns: current?.turns ?? 0, lastStatus: current?.lastStatus ?? null },
    input: [u(content)],
    startedAt: 1000,
  };
}

export const OK = { status: 'ok' as const, reply: a('fine'), finishReason: 'stop' as const, endedAt: 2000 };
