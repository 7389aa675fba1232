/**
 * Maps OpenAI request messages onto an agent turn: instructions for the system prompt,
 * the conversation the client sent, and the new turn (what follows its last reply).
 */
import type {
  ChatCompletionRequestMessage,
  MessageContent,
  UserMessageContent,
} from '../../generated/client/types.gen.js';
import type { TranscriptMessage } from '../sessions/store.js';
import { invalidRequest } from '../errors.js';
import { fetchImage, parseImage, type ImagePolicy, type ImageSource } from './images.js';

/** An image as sent, with the request field it came from (for 400s). */
export interface PendingImage {
  source: ImageSource;
  param: string;
}

/** A transcript message whose images may still need fetching. */
export type PendingMessage = Exclude<TranscriptMessage, { role: 'user' }> | { role: 'user'; content: string; images?: PendingImage[] };

/** The parts of a request's messages the agent core uses. */
export interface RequestTurn {
  /** `system` and `developer` text, in order, for this turn's system prompt. */
  instructions: string[];
  /** Every user/assistant/tool message, in order. */
  conversation: PendingMessage[];
  /** The user/tool messages after the last assistant message. */
  newTurn: PendingMessage[];
  /** Whether any message carries an image. */
  hasImages: boolean;
}

/** A string, or text parts joined in order. */
export function contentText(content: MessageContent | null | undefined): string {
  if (content === null || content === undefined) return '';
  return typeof content === 'string' ? content : content.map((part) => part.text).join('');
}

function userMessage(content: UserMessageContent, index: number, policy: ImagePolicy): PendingMessage {
  if (typeof content === 'string') return { role: 'user', content };
  let text = '';
  const images: PendingImage[] = [];
  content.forEach((part, i) => {
    if (part.type === 'text') {
      text += part.text;
      return;
    }
    const param = `messages[${index}].content[${i}].image_url.url`;
    images.push({ source: parseImage(part.image_url.url, part.image_url.detail, param, policy), param });
  });
  return images.length > 0 ? { role: 'user', content: text, images } : { role: 'user', content: text };
}

/** Splits request messages; 400 when they hold no new user or tool message, or too many images. */
export function splitMessages(messages: readonly ChatCompletionRequestMessage[], policy: ImagePolicy): RequestTurn {
  const instructions: string[] = [];
  const conversation: PendingMessage[] = [];
  let lastAssistant = -1;
  let images = 0;
  messages.forEach((message, index) => {
    switch (message.role) {
      case 'system':
      case 'developer':
        instructions.push(contentText(message.content));
        break;
      case 'user': {
        const mapped = userMessage(message.content, index, policy);
        images += mapped.role === 'user' ? (mapped.images?.length ?? 0) : 0;
        conversation.push(mapped);
        break;
      }
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
  });
  if (images > policy.maxCount) {
    throw invalidRequest(`The request has ${images} images; the limit is ${policy.maxCount}.`, 'messages', 'too_many_images');
  }
  const newTurn = conversation.slice(lastAssistant + 1);
  if (newTurn.length === 0) {
    throw invalidRequest(
      'messages must end with at least one user or tool message after the last assistant message.',
      'messages',
      'missing_new_turn',
    );
  }
  return { instructions, conversation, newTurn, hasImages: images > 0 };
}

/** Fetches URL images (the policy allowed them) so every message is ready for a provider. */
export async function resolveMessages(messages: readonly PendingMessage[], policy: ImagePolicy, signal: AbortSignal): Promise<TranscriptMessage[]> {
  return Promise.all(
    messages.map(async (message): Promise<TranscriptMessage> => {
      if (message.role !== 'user' || !message.images) return message as TranscriptMessage;
      const images = await Promise.all(
        message.images.map(({ source, param }) => ('url' in source ? fetchImage(source, param, policy, signal) : Promise.resolve(source))),
      );
      return { role: 'user', content: message.content, images };
    }),
  );
}
