/**
 * The recent `ok` turns of the transcripts in use, kept in memory so a long session's
 * history is not read back and parsed every turn (for a 50-turn history that was most of
 * a turn's cost). An entry is used only while the store still shows the transcript as
 * this process left it (same turn count and last update), so a turn written by another
 * process (`moltbot agent`) or a reset simply makes it a miss.
 */
import type { SessionInfo, Turn } from '../sessions/store.js';

/** Transcripts remembered at least; the least recently used is dropped first. */
const MIN_ENTRIES = 256;

interface Entry {
  turns: number;
  updatedAt: number;
  recent: Turn[];
}

export interface HistoryCache {
  /** The remembered recent turns, if the store still matches them. */
  get(session: SessionInfo): Turn[] | undefined;
  /** Remembers `recent` (oldest first) as the transcript's latest `ok` turns. */
  set(session: SessionInfo, recent: Turn[]): void;
  /**
   * A turn of `sessionId` was written as `seq`, leaving the transcript updated at
   * `updatedAt`; `ok` turns join the history (at most `keep` are kept). Forgets the
   * transcript when the turn is not the next one after what is remembered.
   */
  written(sessionId: string, seq: number, updatedAt: number, turn: Turn | undefined, keep: number): void;
}

/**
 * `capacity`: transcripts remembered (at least 256). The core passes its run limit: with
 * more sessions running at once than entries, every turn would miss and read its
 * history back from the store.
 */
export function createHistoryCache(capacity = MIN_ENTRIES): HistoryCache {
  const maxEntries = Math.max(MIN_ENTRIES, capacity);
  const entries = new Map<string, Entry>();
  return {
    get(session) {
      const entry = entries.get(session.id);
      if (!entry || entry.turns !== session.turns || entry.updatedAt !== session.updatedAt) return undefined;
      // Most recently used last.
      entries.delete(session.id);
      entries.set(session.id, entry);
      return entry.recent;
    },
    set(session, recent) {
      entries.delete(session.id);
      entries.set(session.id, { turns: session.turns, updatedAt: session.updatedAt, recent });
      if (entries.size > maxEntries) entries.delete(entries.keys().next().value as string);
    },
    written(sessionId, seq, updatedAt, turn, keep) {
      const entry = entries.get(sessionId);
      if (!entry) return;
      if (seq !== entry.turns + 1) {
        entries.delete(sessionId);
        return;
      }
      const recent = turn ? [...entry.recent, turn].slice(-keep) : entry.recent;
      entries.set(sessionId, { turns: seq, updatedAt, recent });
    },
  };
}
