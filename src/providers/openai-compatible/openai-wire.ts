/**
 * Our provider-neutral request as Chat Completions wire fields, and streamed tool-call
 * deltas back as our events. Pure: no network, no SDK runtime, only its types.
 */
import type {
  ChatCompletionChunk,
  ChatCompletionContentPart,
  ChatCompletionCreateParamsStreaming,
  ChatCompletionMessageParam,
  ChatCompletionTool,
  ChatCompletionToolChoiceOption,
} from 'openai/resources/chat/completions';
import type { ModelEvent } from '../../domain/events.js';
import type { ImageInput, ModelMessage } from '../../domain/messages.js';
import type { ModelParameters, ToolChoice } from '../../domain/options.js';
import type { ModelRequest } from '../types.js';

/** The request fields besides `model`, `messages` and the streaming options. */
export type ChatRequestOptions = Omit<
  ChatCompletionCreateParamsStreaming,
  'model' | 'messages' | 'stream' | 'stream_options'
>;

function imagePart(image: ImageInput): ChatCompletionContentPart {
  return {
    type: 'image_url',
    image_url: {
      url: `data:${image.mimeType};base64,${image.data}`,
      ...(image.detail === undefined ? {} : { detail: image.detail }),
    },
  };
}

/** One of our messages as a Chat Completions message. */
export function toWireMessage(message: ModelMessage): ChatCompletionMessageParam {
  switch (message.role) {
    case 'tool':
      return { role: 'tool', content: message.content, tool_call_id: message.toolCallId };
    case 'assistant':
      if (!message.toolCalls?.length) return { role: 'assistant', content: message.content };
      return {
        role: 'assistant',
        // OpenAI's own shape for a pure tool call: null content.
        content: message.content === '' ? null : message.content,
        tool_calls: message.toolCalls.map((call) => ({
          id: call.id,
          type: 'function' as const,
          function: { name: call.name, arguments: call.arguments },
        })),
      };
    case 'user': {
      // Plain string content unless there are images: servers without vision support
      // (and some older ones) only take strings.
      if (!message.images?.length) return { role: 'user', content: message.content };
      const text: ChatCompletionContentPart[] = message.content === '' ? [] : [{ type: 'text', text: message.content }];
      return { role: 'user', content: [...text, ...message.images.map(imagePart)] };
    }
    case 'system':
      return { role: 'system', content: message.content };
  }
}

function parameterFields(parameters: ModelParameters): ChatRequestOptions {
  const fields: ChatRequestOptions = {};
  if (parameters.temperature !== undefined) fields.temperature = parameters.temperature;
  if (parameters.topP !== undefined) fields.top_p = parameters.topP;
  // `max_tokens`, not `max_completion_tokens`: Ollama, vLLM, llama.cpp and LM Studio
  // read only `max_tokens`, and OpenAI still takes it for its non-reasoning models.
  if (parameters.maxTokens !== undefined) fields.max_tokens = parameters.maxTokens;
  if (parameters.stop?.length) fields.stop = parameters.stop;
  if (parameters.seed !== undefined) fields.seed = parameters.seed;
  if (parameters.presencePenalty !== undefined) fields.presence_penalty = parameters.presencePenalty;
  if (parameters.frequencyPenalty !== undefined) fields.frequency_penalty = parameters.frequencyPenalty;
  const format = parameters.responseFormat;
  if (format?.type === 'json_schema') {
    const { name, description, schema, strict } = format;
    fields.response_format = {
      type: 'json_schema',
      json_schema: {
        name,
        ...(description === undefined ? {} : { description }),
        ...(schema === undefined ? {} : { schema }),
        ...(strict === undefined ? {} : { strict }),
      },
    };
  } else if (format) {
    fields.response_format = { type: format.type };
  }
  return fields;
}

function wireToolChoice(choice: ToolChoice): ChatCompletionToolChoiceOption {
  return typeof choice === 'string' ? choice : { type: 'function', function: { name: choice.name } };
}

/**
 * The optional request fields: sampling parameters (all of ours: temperature, top_p,
 * max_tokens, stop, seed, presence/frequency penalties, response_format), and `tools`,
 * `tool_choice` and `parallel_tool_calls`. The last two are sent only with tools:
 * OpenAI rejects either without `tools`, and they mean nothing then.
 */
export function toRequestOptions(request: ModelRequest): ChatRequestOptions {
  const fields = parameterFields(request.parameters ?? {});
  if (!request.tools?.length) return fields;
  fields.tools = request.tools.map(
    (tool): ChatCompletionTool => ({
      type: 'function',
      function: {
        name: tool.name,
        ...(tool.description === undefined ? {} : { description: tool.description }),
        ...(tool.parameters === undefined ? {} : { parameters: tool.parameters }),
        ...(tool.strict === undefined ? {} : { strict: tool.strict }),
      },
    }),
  );
  if (request.toolChoice !== undefined) fields.tool_choice = wireToolChoice(request.toolChoice);
  if (request.parallelToolCalls !== undefined) fields.parallel_tool_calls = request.parallelToolCalls;
  return fields;
}

type ToolCallDelta = NonNullable<ChatCompletionChunk.Choice.Delta['tool_calls']>[number];

/**
 * Turns streamed `delta.tool_calls` into `tool_call` events, keeping OpenAI's `index`:
 * the first event of an index carries its `id` and `name` (and any first arguments
 * fragment), later ones only non-empty `arguments` fragments.
 */
/** What a chunk without tool calls gives (most chunks): no array per chunk. */
const NO_EVENTS: readonly ModelEvent[] = [];

export class ToolCallStream {
  // Made with the first tool call: most turns have none, and every open stream holds one of these.
  private started: Set<number> | undefined;
  private indexById: Map<string, number> | undefined;
  private last = -1;

  /** The events for one chunk's `delta.tool_calls`. */
  events(deltas: readonly ToolCallDelta[] | null | undefined): readonly ModelEvent[] {
    if (!deltas || deltas.length === 0) return NO_EVENTS;
    const events: ModelEvent[] = [];
    for (const delta of deltas) {
      const index = this.indexOf(delta);
      const fragment = delta.function?.arguments ?? '';
      if (this.started?.has(index)) {
        if (fragment !== '') events.push({ type: 'tool_call', index, arguments: fragment });
        continue;
      }
      (this.started ??= new Set()).add(index);
      this.last = index;
      // Without an id the client could not answer the call; some servers leave it out.
      const id = delta.id || `call_${index}_${Math.random().toString(36).slice(2, 10)}`;
      if (delta.id) (this.indexById ??= new Map()).set(delta.id, index);
      events.push({
        type: 'tool_call',
        index,
        id,
        ...(delta.function?.name === undefined ? {} : { name: delta.function.name }),
        ...(fragment === '' ? {} : { arguments: fragment }),
      });
    }
    return events;
  }

  /**
   * OpenAI always sends `index`; a few compatible servers (Gemini's) do not, and send
   * each call whole with its id instead. Without one: a new id is a new call, anything
   * else continues the latest call.
   */
  private indexOf(delta: ToolCallDelta): number {
    if (typeof delta.index === 'number') return delta.index;
    if (delta.id) return this.indexById?.get(delta.id) ?? Math.max(-1, ...(this.started ?? [])) + 1;
    return Math.max(this.last, 0);
  }
}
