import type { SessionStore, Turn } from './store.js';

/** A process-local store: transcripts live as long as the process. */
export function createMemoryStore(): SessionStore {
  const sessions = new Map<string, Turn[]>();
  let closed = false;
  const check = (): void => {
    if (closed) throw new Error('session store is closed');
  };
  return {
    async loadTurns(sessionKey) {
      check();
      return structuredClone(sessions.get(sessionKey) ?? []);
    },
    async appendTurn(turn) {
      check();
      const turns = sessions.get(turn.sessionKey) ?? [];
      turns.push(structuredClone(turn));
      sessions.set(turn.sessionKey, turns);
    },
    async close() {
      closed = true;
    },
  };
}
