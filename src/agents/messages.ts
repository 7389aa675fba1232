/**
 * Maps OpenAI request messages onto an agent turn: instructions for the system prompt,
 * the conversation the client sent, and the new turn (what follows its last reply).
 */
import type { ChatCompletionRequestMessage, MessageContent } from '../../generated/client/types.gen.js';
import type { TranscriptMessage } from '../sessions/store.js';
import { invalidRequest } from '../errors.js';

/** The parts of a request's messages the agent core uses. */
export interface RequestTurn {
  /** `system` and `developer` text, in order, for this turn's system prompt. */
  instructions: string[];
  /** Every user/assistant/tool message, in order. */
  conversation: TranscriptMessage[];
  /** The user/tool messages after the last assistant message. */
  newTurn: TranscriptMessage[];
}

/** A string, or text parts joined in order. */
export function contentText(content: MessageContent | null | undefined): string {
  if (content === null || content === undefined) return '';
  return typeof content === 'string' ? content : content.map((part) => part.text).join('');
}

/** Splits request messages; 400 when they hold no new user or tool message. */
export function splitMessages(messages: readonly ChatCompletionRequestMessage[]): RequestTurn {
  const instructions: string[] = [];
  const conversation: TranscriptMessage[] = [];
  let lastAssistant = -1;
  for (const message of messages) {
    switch (message.role) {
      case 'system':
      case 'developer':
        instructions.push(contentText(message.content));
        break;
      case 'user':
        conversation.push({ role: 'user', content: contentText(message.content) });
        break;
      case 'assistant':
        lastAssistant = conversation.length;
        conversation.push({
          role: 'assistant',
          content: contentText(message.content),
          // Kept so the tool messages that follow still answer a call the model made.
          ...(message.tool_calls?.length
            ? { toolCalls: message.tool_calls.map((call) => ({ id: call.id, name: call.function.name, arguments: call.function.arguments })) }
            : {}),
        });
        break;
      case 'tool':
        conversation.push({ role: 'tool', content: contentText(message.content), toolCallId: message.tool_call_id });
        break;
    }
  }
  const newTurn = conversation.slice(lastAssistant + 1);
  if (newTurn.length === 0) {
    throw invalidRequest(
      'messages must end with at least one user or tool message after the last assistant message.',
      'messages',
      'missing_new_turn',
    );
  }
  return { instructions, conversation, newTurn };
}
