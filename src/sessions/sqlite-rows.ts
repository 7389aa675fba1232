/** Rows of the SQLite store's tables, and the store's types made from them. */
import type { ListSessionsOptions, SessionInfo, SessionKind, Turn, TurnOutcome, TurnStatus } from './store.js';

export interface SessionRow {
  n: number;
  id: string;
  key: string;
  agent_id: string;
  kind: string;
  created_at: number;
  updated_at: number;
  turns: number;
  last_status: string | null;
}

export interface TurnRow {
  session_id: string;
  key: string;
  agent_id: string;
  seq: number;
  status: string;
  input: string;
  reply: string | null;
  reply_original_bytes: number | null;
  instructions: string | null;
  finish_reason: string | null;
  usage: string | null;
  error: string | null;
  started_at: number;
  ended_at: number | null;
}

/** The turn columns read back, for `SELECT ${TURN_COLUMNS} FROM turns t JOIN sessions s ...`. */
export const TURN_COLUMNS =
  't.session_id, s.key, s.agent_id, t.seq, t.status, t.input, t.reply, t.reply_original_bytes, t.instructions, t.finish_reason, t.usage, t.error, t.started_at, t.ended_at';

export const toSession = (row: SessionRow): SessionInfo => ({
  id: row.id,
  key: row.key,
  agentId: row.agent_id,
  kind: row.kind as SessionKind,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
  turns: row.turns,
  lastStatus: row.last_status as TurnStatus | null,
});

export function toTurn(row: TurnRow): Turn {
  return {
    sessionId: row.session_id,
    sessionKey: row.key,
    agentId: row.agent_id,
    seq: row.seq,
    input: JSON.parse(row.input) as Turn['input'],
    ...(row.reply === null ? {} : { reply: JSON.parse(row.reply) as NonNullable<Turn['reply']> }),
    ...(row.reply_original_bytes === null ? {} : { replyTruncated: { originalBytes: row.reply_original_bytes } }),
    ...(row.instructions === null ? {} : { instructions: row.instructions }),
    status: row.status as TurnStatus,
    ...(row.finish_reason === null ? {} : { finishReason: row.finish_reason as NonNullable<Turn['finishReason']> }),
    ...(row.usage === null ? {} : { usage: JSON.parse(row.usage) as NonNullable<Turn['usage']> }),
    ...(row.error === null ? {} : { error: JSON.parse(row.error) as NonNullable<Turn['error']> }),
    startedAt: row.started_at,
    ...(row.ended_at === null ? {} : { endedAt: row.ended_at }),
  };
}

const json = (value: unknown): string | null => (value === undefined ? null : JSON.stringify(value));

/** A turn's outcome as the columns `finishTurn` and a whole-turn insert write. */
export const outcomeColumns = (outcome: TurnOutcome) => ({
  status: outcome.status,
  reply: json(outcome.reply),
  replyOriginalBytes: outcome.replyTruncated?.originalBytes ?? null,
  finishReason: outcome.finishReason ?? null,
  usage: json(outcome.usage),
  error: json(outcome.error),
  endedAt: outcome.endedAt,
});

/**
 * A page of `listSessions` after (?, ?) in (updated_at, id) order, down the sessions_by_update
 * index, then the limit (-1: none); `byAgent` takes the agent id before the limit. Shared
 * by the store and the read-only lister (`sqlite-reader.ts`).
 */
export const LIST_SQL = {
  all: 'SELECT * FROM sessions WHERE (updated_at, id) < (?, ?) ORDER BY updated_at DESC, id DESC LIMIT ?',
  byAgent: 'SELECT * FROM sessions WHERE (updated_at, id) < (?, ?) AND agent_id = ? ORDER BY updated_at DESC, id DESC LIMIT ?',
} as const;

/**
 * Where a `listSessions` page starts, as the (updated_at, id) every row listed is below:
 * the cursor's, or for the first page a time later than any (so the empty id never matters).
 */
export function listBounds(options: ListSessionsOptions): [number, string] {
  return options.after ? [options.after.updatedAt, options.after.id] : [Number.MAX_SAFE_INTEGER, ''];
}
