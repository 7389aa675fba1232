/**
 * What the transports may see and do with sessions besides running turns (the WebSocket
 * methods `sessions.*`, `chat.history`, `health`): read them, reset one (a new empty
 * transcript) and delete one. Resets and deletes take the session's lane, so they never
 * interleave with a turn of this process; the store refuses a delete while another
 * process runs a turn in it.
 */
import { newSessionId } from '../ids.js';
import type { SessionInfo, SessionStore, Turn } from '../sessions/store.js';
import type { Lanes } from './lanes.js';

export type { SessionInfo, Turn };

export interface SessionAdmin {
  /** Transcripts, most recently updated first (all agents', or one's). */
  list(filter?: { agentId?: string }): Promise<SessionInfo[]>;
  /** The current transcript of the agent's session `key`, if any. */
  current(agentId: string, key: string): Promise<SessionInfo | undefined>;
  /** Every turn of that transcript, oldest first. */
  turns(agentId: string, key: string): Promise<Turn[]>;
  /** Starts a new empty transcript under the key, after any turn of it running here. */
  reset(agentId: string, key: string): Promise<SessionInfo>;
  /**
   * Aborts the session's turns running here, then deletes its transcripts; false when it
   * had none. Rejects with the store's `SessionConflict` while another process runs a turn in it.
   */
  delete(agentId: string, key: string): Promise<boolean>;
  /** Aborts the session's turns running in this process; returns how many. */
  abort(agentId: string, key: string): number;
}

export function createSessionAdmin(store: SessionStore, lanes: Lanes, abortRuns: (agentId: string, key: string) => number, now: () => number): SessionAdmin {
  /** Runs `work` holding the session's lane (no turn of it runs here meanwhile). */
  async function inLane<T>(agentId: string, key: string, work: () => Promise<T>): Promise<T> {
    const release = await lanes.acquire({ agentId, key }, new AbortController().signal);
    try {
      return await work();
    } finally {
      release();
    }
  }
  return {
    list: (filter) => store.listSessions(filter),
    current: (agentId, key) => store.currentSession(agentId, key),
    turns: (agentId, key) => store.loadTurns(agentId, key),
    reset: (agentId, key) => inLane(agentId, key, () => store.resetSession({ id: newSessionId(), key, agentId, kind: 'explicit' }, now())),
    delete(agentId, key) {
      abortRuns(agentId, key);
      return inLane(agentId, key, () => store.deleteSession(agentId, key));
    },
    abort: abortRuns,
  };
}
