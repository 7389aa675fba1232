import type { ModelEvent, ModelProvider, ModelRequest, StreamOptions } from '../types.js';
import { RunAbortedError } from '../../errors.js';

/** Counts whitespace-separated words: the echo stand-in's notion of a token. */
function countWords(text: string): number {
  const trimmed = text.trim();
  return trimmed === '' ? 0 : trimmed.split(/\s+/u).length;
}

/** Splits text into deltas of one word each, keeping the whitespace that follows it. */
function splitDeltas(text: string): string[] {
  return text.match(/\S+\s*|\s+/gu) ?? [];
}

/**
 * The `echo` stand-in: no network, deterministic. It replies with the text of the last
 * user message, streamed as one delta per word. Usage counts words: prompt = every
 * message it was sent (system prompt included), completion = the reply.
 * It is a test and demo double, never a model.
 */
export function createEchoProvider(id: string): ModelProvider {
  return {
    id,
    async *stream(request: ModelRequest, { signal }: StreamOptions): AsyncIterable<ModelEvent> {
      const lastUser = [...request.messages].reverse().find((m) => m.role === 'user');
      const reply = lastUser?.content ?? '';
      for (const text of splitDeltas(reply)) {
        if (signal.aborted) throw new RunAbortedError();
        yield { type: 'delta', text };
      }
      const promptTokens = request.messages.reduce((n, m) => n + countWords(m.content), 0);
      const completionTokens = countWords(reply);
      yield {
        type: 'usage',
        usage: { promptTokens, completionTokens, totalTokens: promptTokens + completionTokens },
      };
      yield { type: 'finish', reason: 'stop' };
    },
  };
}
