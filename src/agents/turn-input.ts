/**
 * A turn request's messages as the agent core uses them: instructions for the system
 * prompt, the conversation the caller sent, and the new turn (what follows its last
 * reply), with images checked against the policy and fetched when needed.
 */
import { missingNewTurn, tooManyImages, type TurnField } from '../domain/errors.js';
import type { TranscriptMessage, TurnMessage } from '../domain/messages.js';
import { fetchImage, parseImage, type ImagePolicy, type ImageSource } from './images.js';

/** An image as sent, with the turn input it came from (for 400s). */
export interface PendingImage {
  source: ImageSource;
  field: TurnField;
}

/** A transcript message whose images may still need fetching. */
export type PendingMessage = Exclude<TranscriptMessage, { role: 'user' }> | { role: 'user'; content: string; images?: PendingImage[] };

/** The parts of a turn's input the agent core uses. */
export interface TurnInput {
  /** `system` text, in order, for this turn's system prompt. */
  instructions: string[];
  /** Every user/assistant/tool message, in order. */
  conversation: PendingMessage[];
  /** The user/tool messages after the last assistant message. */
  newTurn: PendingMessage[];
  /** Whether any message carries an image. */
  hasImages: boolean;
}

/** Splits a turn's messages; 400 when they hold no new user or tool message, too many images, or an image the policy refuses. */
export function splitInput(input: readonly TurnMessage[], policy: ImagePolicy): TurnInput {
  const instructions: string[] = [];
  const conversation: PendingMessage[] = [];
  let lastAssistant = -1;
  let images = 0;
  input.forEach((message, index) => {
    switch (message.role) {
      case 'system':
        instructions.push(message.content);
        break;
      case 'user': {
        if (!message.images?.length) {
          conversation.push({ role: 'user', content: message.content });
          break;
        }
        const pending = message.images.map((ref, i): PendingImage => {
          const field: TurnField = `input[${index}].images[${i}]`;
          return { source: parseImage(ref, field, policy), field };
        });
        images += pending.length;
        conversation.push({ role: 'user', content: message.content, images: pending });
        break;
      }
      case 'assistant':
        lastAssistant = conversation.length;
        conversation.push(message);
        break;
      case 'tool':
        conversation.push(message);
        break;
    }
  });
  if (images > policy.maxCount) throw tooManyImages(images, policy.maxCount);
  const newTurn = conversation.slice(lastAssistant + 1);
  if (newTurn.length === 0) throw missingNewTurn();
  return { instructions, conversation, newTurn, hasImages: images > 0 };
}

/** Fetches URL images (the policy allowed them) so every message is ready for a provider. */
export async function resolveMessages(messages: readonly PendingMessage[], policy: ImagePolicy, signal: AbortSignal): Promise<TranscriptMessage[]> {
  return Promise.all(
    messages.map(async (message): Promise<TranscriptMessage> => {
      if (message.role !== 'user' || !message.images) return message as TranscriptMessage;
      const images = await Promise.all(
        message.images.map(({ source, field }) => ('url' in source ? fetchImage(source, field, policy, signal) : Promise.resolve(source))),
      );
      return { role: 'user', content: message.content, images };
    }),
  );
}

/**
 * The turn's messages resolved (images fetched), once per variant, however many attempts
 * the turn takes: the whole conversation (a new transcript) or the new turn only. `signal`
 * gives the current attempt's signal when a fetch starts.
 */
export function createInputResolver(input: TurnInput, policy: ImagePolicy, signal: () => AbortSignal): (whole: boolean) => Promise<TranscriptMessage[]> {
  const resolved = new Map<boolean, Promise<TranscriptMessage[]>>();
  return (whole) => {
    let messages = resolved.get(whole);
    if (!messages) resolved.set(whole, (messages = resolveMessages(whole ? input.conversation : input.newTurn, policy, signal())));
    return messages;
  };
}
