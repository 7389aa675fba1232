/** Bounded context: which stored turns are sent to the model with the new one. */
import type { HistoryLimits } from '../config/types.js';
import type { TranscriptMessage, Turn } from '../sessions/store.js';

/** A rough token estimate (about four characters a token), enough to bound a request. */
export function estimateTokens(messages: readonly TranscriptMessage[]): number {
  let chars = 0;
  for (const message of messages) {
    chars += message.content.length;
    if (message.role === 'assistant') for (const call of message.toolCalls ?? []) chars += call.name.length + call.arguments.length;
  }
  return Math.ceil(chars / 4);
}

function turnMessages(turn: Turn): TranscriptMessage[] {
  return turn.reply ? [...turn.input, turn.reply] : turn.input;
}

/**
 * The messages of the most recent turns that fit the limits, oldest first. Turns are kept
 * or dropped whole, so a tool call never loses its result.
 */
export function boundedHistory(turns: readonly Turn[], limits: HistoryLimits): TranscriptMessage[] {
  const recent = limits.maxTurns === undefined ? turns : turns.slice(Math.max(0, turns.length - limits.maxTurns));
  const kept: TranscriptMessage[][] = [];
  let tokens = 0;
  for (let i = recent.length - 1; i >= 0; i -= 1) {
    const messages = turnMessages(recent[i] as Turn);
    if (limits.maxTokens !== undefined) {
      tokens += estimateTokens(messages);
      if (tokens > limits.maxTokens) break;
    }
    kept.push(messages);
  }
  return kept.reverse().flat();
}
