/**
 * A reply as it streams in from the model: its text, tool calls, usage and finish
 * reason, and the assistant message it is recorded as. The transcript keeps a reply up
 * to `maxStoredBytes` (text and tool-call arguments, UTF-8): a larger one is stored cut,
 * with a visible marker, and the turn says how large it was; the client still gets all of
 * it. A streamed reply (the client has it already) is not even held in memory past the
 * cap.
 */
import type { ModelEvent } from '../domain/events.js';
import type { FinishReason, ToolCall, TranscriptMessage, Usage } from '../domain/messages.js';

/** Stands in for tool-call arguments that did not fit: valid JSON, saying what happened. */
const droppedArguments = (bytes: number): string => JSON.stringify({ moltbot_truncated: { originalBytes: bytes } });

/** The longest prefix of `text` that is at most `maxBytes` in UTF-8, cut between characters. */
export function utf8Prefix(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  const { read } = new TextEncoder().encodeInto(text, new Uint8Array(Math.max(0, maxBytes)));
  return text.slice(0, read);
}

export interface StoredReply {
  message: TranscriptMessage;
  /** Set when the reply was cut to fit: its size before. */
  truncated?: { originalBytes: number };
}

/** How large a reply may grow, and the error that ends a larger one. */
export interface ReplyLimit {
  maxBytes: number;
  tooLarge: () => Error;
}

export class ReplyCollector {
  text = '';
  readonly toolCalls: ToolCall[] = [];
  usage: Usage | undefined;
  finishReason: FinishReason | undefined;
  /** UTF-8 bytes of text and tool-call arguments received. */
  bytes = 0;

  /**
   * `keepWhole`: the caller takes the reply whole at the end (a JSON response), so all of
   * it is kept in memory; otherwise only what the transcript can store.
   */
  constructor(
    private readonly maxStoredBytes: number,
    private readonly keepWhole: boolean,
  ) {}

  /** The UTF-8 size of `text`, if the reply can still grow by it. */
  private fits(text: string, limit: ReplyLimit | undefined): number {
    const size = Buffer.byteLength(text);
    if (limit && this.bytes + size > limit.maxBytes) throw limit.tooLarge();
    return size;
  }

  /** Whether text arriving now still has to be kept. */
  private keeps(size: number): boolean {
    this.bytes += size;
    return this.keepWhole || this.bytes - size <= this.maxStoredBytes;
  }

  /**
   * Takes one event of the model's stream. With `limit`, throws `limit.tooLarge()`
   * instead, taking nothing, when its text would make the reply larger than `limit.maxBytes`.
   */
  add(event: ModelEvent, limit?: ReplyLimit): void {
    switch (event.type) {
      case 'delta':
        if (this.keeps(this.fits(event.text, limit))) this.text += event.text;
        break;
      case 'tool_call': {
        const size = event.arguments ? this.fits(event.arguments, limit) : 0;
        const call = (this.toolCalls[event.index] ??= { id: '', name: '', arguments: '' });
        if (event.id) call.id = event.id;
        if (event.name) call.name = event.name;
        if (event.arguments && this.keeps(size)) call.arguments += event.arguments;
        break;
      }
      case 'usage':
        this.usage = event.usage;
        break;
      case 'finish':
        this.finishReason = event.reason;
        break;
    }
  }

  /** Whether nothing of a reply came (no text, no tool call). */
  get empty(): boolean {
    return this.text === '' && this.toolCalls.length === 0;
  }

  /** The reply as a whole, for a caller that takes it at once (`keepWhole`). */
  whole(): { content: string; toolCalls: ToolCall[] } {
    return { content: this.text, toolCalls: this.toolCalls.filter(Boolean) };
  }

  /**
   * The reply as the transcript keeps it. Within the cap, as it came. Over it, the text
   * first, cut between characters, then the tool calls whose arguments still fit (the
   * others' arguments replaced by `{"moltbot_truncated":{"originalBytes":N}}`), and a
   * marker at the end of the text saying how large the reply was.
   */
  stored(): StoredReply {
    const calls = this.toolCalls.filter(Boolean);
    const whole = { role: 'assistant' as const, content: this.text, ...(calls.length > 0 ? { toolCalls: calls } : {}) };
    if (this.bytes <= this.maxStoredBytes) return { message: whole };
    const marker = `\n\n[moltbot: reply truncated in the transcript; it was ${this.bytes} bytes, over the limit of ${this.maxStoredBytes} (session.maxStoredReplyBytes)]`;
    let room = Math.max(0, this.maxStoredBytes - Buffer.byteLength(marker));
    const content = utf8Prefix(this.text, room);
    room -= Buffer.byteLength(content);
    const toolCalls = calls.map((call) => {
      const size = Buffer.byteLength(call.arguments);
      if (size <= room) {
        room -= size;
        return call;
      }
      return Object.assign({}, call, { arguments: droppedArguments(size) });
    });
    return {
      message: { role: 'assistant', content: content + marker, ...(toolCalls.length > 0 ? { toolCalls } : {}) },
      truncated: { originalBytes: this.bytes },
    };
  }
}
