/**
 * Streamed `tool_use` content blocks as our `tool_call` events. Pure: no network.
 */
import type { ModelEvent } from '../../domain/events.js';

interface OpenCall {
  index: number;
  /** Whether a non-empty `arguments` fragment has been yielded. */
  sent: boolean;
  /** The block's `input` at `content_block_start` (`{}` when streamed). */
  input: unknown;
}

/**
 * Numbers `tool_use` blocks 0, 1, … in the order they start — Anthropic's block index
 * also counts text and thinking blocks, and OpenAI clients expect tool-call indexes that
 * start at 0 and have no gaps — and turns their `input_json_delta` fragments into
 * `arguments` fragments.
 */
export class ToolUseStream {
  private readonly open = new Map<number, OpenCall>();
  private count = 0;

  /** `content_block_start` of a `tool_use` block: the call's first event, with id and name. */
  start(blockIndex: number, block: { id: string; name: string; input: unknown }): ModelEvent {
    const index = this.count++;
    this.open.set(blockIndex, { index, sent: false, input: block.input });
    return { type: 'tool_call', index, id: block.id, name: block.name };
  }

  /** An `input_json_delta` of block `blockIndex`; nothing for other blocks or an empty fragment. */
  delta(blockIndex: number, partialJson: string): ModelEvent | undefined {
    const call = this.open.get(blockIndex);
    // Server tools (web search…) stream their input too, but are not the client's calls.
    if (!call || partialJson === '') return undefined;
    call.sent = true;
    return { type: 'tool_call', index: call.index, arguments: partialJson };
  }

  /**
   * `content_block_stop`: a call that streamed no input still gets its arguments, since
   * OpenAI clients `JSON.parse` them and '' is not JSON — the input the block started
   * with, or `{}`.
   */
  stop(blockIndex: number): ModelEvent | undefined {
    const call = this.open.get(blockIndex);
    if (!call) return undefined;
    this.open.delete(blockIndex);
    if (call.sent) return undefined;
    const input = call.input;
    const hasInput = typeof input === 'object' && input !== null && Object.keys(input).length > 0;
    return { type: 'tool_call', index: call.index, arguments: hasInput ? JSON.stringify(input) : '{}' };
  }
}
