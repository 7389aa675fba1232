/**
 * The session store interface. The core reads history and appends whole turns through
 * it; stores (in-memory now, SQLite and PostgreSQL later) implement it. A turn is
 * appended in one call so a store can make it one transaction.
 */
import type { FinishReason, ToolCall, Usage } from '../providers/types.js';

/** A message as kept in a transcript. */
export type TranscriptMessage =
  | { role: 'user'; content: string }
  | { role: 'assistant'; content: string; toolCalls?: ToolCall[] }
  | { role: 'tool'; content: string; toolCallId: string };

/** How a turn ended. Only `ok` turns feed the model's history. */
export type TurnStatus = 'ok' | 'error' | 'aborted';

/** One request/reply exchange of a session. */
export interface Turn {
  sessionKey: string;
  agentId: string;
  /** The messages this turn added before the reply (the new user/tool messages). */
  input: TranscriptMessage[];
  /** The assistant reply; partial for an aborted turn, absent when nothing came back. */
  reply?: TranscriptMessage;
  /** Per-request system/developer text, kept for audit; never replayed. */
  instructions?: string;
  status: TurnStatus;
  finishReason?: FinishReason;
  usage?: Usage;
  /** For `error` turns: the error's type and code. */
  error?: { type: string; code: string | null; message: string };
  startedAt: number;
  endedAt: number;
}

export interface SessionStore {
  /** The turns of a session, oldest first; empty for an unknown key. */
  loadTurns(sessionKey: string): Promise<Turn[]>;
  /** Appends one complete turn. */
  appendTurn(turn: Turn): Promise<void>;
  /** Releases resources; further calls fail. */
  close(): Promise<void>;
}

/** The model-visible history of a session: the input and reply of every `ok` turn. */
export function historyOf(turns: readonly Turn[]): TranscriptMessage[] {
  const history: TranscriptMessage[] = [];
  for (const turn of turns) {
    if (turn.status !== 'ok') continue;
    history.push(...turn.input);
    if (turn.reply) history.push(turn.reply);
  }
  return history;
}
