/**
 * A reply as it streams in from the model: its text, tool calls, usage and finish
 * reason, and the assistant message it is recorded as.
 */
import type { FinishReason, ModelEvent, ToolCall, Usage } from '../providers/types.js';
import type { TranscriptMessage } from '../sessions/store.js';

export class ReplyCollector {
  text = '';
  readonly toolCalls: ToolCall[] = [];
  usage: Usage | undefined;
  finishReason: FinishReason | undefined;

  /** Takes one event of the model's stream. */
  add(event: ModelEvent): void {
    switch (event.type) {
      case 'delta':
        this.text += event.text;
        break;
      case 'tool_call': {
        const call = (this.toolCalls[event.index] ??= { id: '', name: '', arguments: '' });
        if (event.id) call.id = event.id;
        if (event.name) call.name = event.name;
        if (event.arguments) call.arguments += event.arguments;
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

  /** The reply as a whole, for a caller that takes it at once. */
  whole(): { content: string; toolCalls: ToolCall[] } {
    return { content: this.text, toolCalls: this.toolCalls.filter(Boolean) };
  }

  /** The reply as the transcript's assistant message. */
  message(): TranscriptMessage {
    return { role: 'assistant', content: this.text, ...(this.toolCalls.length > 0 ? { toolCalls: this.toolCalls } : {}) };
  }
}
