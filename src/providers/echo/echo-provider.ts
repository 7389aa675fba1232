import { RunAbortedError } from '../../domain/errors.js';
import type { ModelEvent } from '../../domain/events.js';
import type { ModelProvider, ModelRequest, StreamOptions } from '../types.js';

/** Whitespace as `\s` knows it (the ASCII and Unicode spaces and line breaks). */
const SPACE = /\s/u;

/**
 * Counts whitespace-separated words: the echo stand-in's notion of a token. A scan, not a
 * split: it runs over every history message of every turn, and a stand-in should cost
 * next to nothing.
 */
function countWords(text: string): number {
  let words = 0;
  let inWord = false;
  for (let i = 0; i < text.length; i += 1) {
    const code = text.charCodeAt(i);
    // ASCII decides itself (space, tab, line breaks); anything else asks the regex.
    const space = code < 127 ? code === 32 || (code >= 9 && code <= 13) : SPACE.test(text[i] as string);
    if (!space && !inWord) words += 1;
    inWord = !space;
  }
  return words;
}

/** Splits text into deltas of one word each, keeping the whitespace that follows it. */
function splitDeltas(text: string): string[] {
  return text.match(/\S+\s*|\s+/gu) ?? [];
}

/**
 * The `echo` stand-in: no network, deterministic. It replies with the text of the last
 * user message, streamed as one delta per word, cut at `maxTokens` words (finish
 * `length`). Usage counts words: prompt = every message it was sent (system prompt
 * included), completion = the reply. It takes no images and ignores tools.
 * It is a test and demo double, never a model.
 */
export function createEchoProvider(id: string): ModelProvider {
  return {
    id,
    acceptsImages: false,
    async *stream(request: ModelRequest, { signal }: StreamOptions): AsyncIterable<ModelEvent> {
      const lastUser = [...request.messages].reverse().find((m) => m.role === 'user');
      const words = splitDeltas(lastUser?.content ?? '');
      // Like a model, it stops at max_tokens (one word a token) and says so.
      const limit = request.parameters?.maxTokens;
      const deltas = limit === undefined ? words : words.slice(0, limit);
      for (const text of deltas) {
        if (signal.aborted) throw new RunAbortedError();
        yield { type: 'delta', text };
      }
      const promptTokens = request.messages.reduce((n, m) => n + countWords(m.content), 0);
      const completionTokens = countWords(deltas.join(''));
      yield {
        type: 'usage',
        usage: { promptTokens, completionTokens, totalTokens: promptTokens + completionTokens },
      };
      yield { type: 'finish', reason: deltas.length < words.length ? 'length' : 'stop' };
    },
  };
}
