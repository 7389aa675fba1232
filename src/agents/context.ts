/**
 * A turn's context: which transcript it continues and the bounded history sent with it,
 * read through the in-memory history cache. It also says what the history was read from
 * (`expected`), so the store can refuse the turn if another process changed the session
 * meanwhile.
 */
import type { AgentConfig } from '../config/types.js';
import type { BeginTurn, SessionKind, SessionStore, TranscriptMessage, Turn } from '../sessions/store.js';
import { boundedHistory } from './history.js';
import { createHistoryCache } from './history-cache.js';
import { isExpired } from './reset.js';

/** Upper bound on stored turns read for history when only a token budget is set. */
const HISTORY_FETCH_CAP = 1000;

export interface TurnContext {
  /** The transcript the turn continues; undefined for a new one (first turn, or a reset). */
  sessionId: string | undefined;
  /** The history to send, bounded by the agent's limits. */
  history: TranscriptMessage[];
  /** Whether the continued transcript has `ok` turns (then only the request's new turn is added). */
  hasTurns: boolean;
  /** The session as read: for `beginTurn`. */
  expected: BeginTurn['expected'];
}

export interface ContextReader {
  /** The agent's session `key` as it is now. */
  load(agent: AgentConfig, key: string, kind: SessionKind): Promise<TurnContext>;
  /** A turn of `sessionId` was written as `seq`, ending at `updatedAt`; `added` when it is history (`ok`). */
  written(agent: AgentConfig, sessionId: string, seq: number, updatedAt: number, added: Turn | undefined): void;
}

/** `capacity`: transcripts whose recent turns are kept in memory (one per session that can run at once). */
export function createContextReader(store: SessionStore, now: () => number, capacity?: number): ContextReader {
  // Keyed by transcript id, and a transcript belongs to one (agent, key): no session sees another's entries.
  const cache = createHistoryCache(capacity);
  /** Stored turns read for an agent's history (then bounded by its limits). */
  const historyTurns = (agent: AgentConfig): number => Math.max(1, agent.history.maxTurns ?? HISTORY_FETCH_CAP);
  return {
    async load(agent, key, kind) {
      // A stateless turn's key was minted for it (a new UUIDv7): the store cannot know it yet.
      const session = kind === 'stateless' ? undefined : await store.currentSession(agent.id, key);
      const expected = { sessionId: session?.id, turns: session?.turns ?? 0, lastStatus: session?.lastStatus ?? null };
      if (!session || isExpired(session.updatedAt, now(), agent.reset)) return { sessionId: undefined, history: [], hasTurns: false, expected };
      let turns = cache.get(session);
      if (!turns) {
        turns = await store.recentTurns(session.id, historyTurns(agent));
        cache.set(session, turns);
      }
      return { sessionId: session.id, history: boundedHistory(turns, agent.history), hasTurns: turns.length > 0, expected };
    },
    written(agent, sessionId, seq, updatedAt, added) {
      cache.written(sessionId, seq, updatedAt, added, historyTurns(agent));
    },
  };
}
