/**
 * An OpenAI chat completion request as an agent turn: the headers and `model` route it,
 * the messages become the turn's domain messages (`developer` text as instructions,
 * content parts joined, `image_url` parts as image references), the other fields its
 * options. Errors the core raises about a turn input are renamed to what this request
 * calls it (`x-moltbot-agent-id`, `messages[0].content[1].image_url.url`).
 */
import type {
  ChatCompletionRequestMessage,
  CreateChatCompletionRequest,
  MessageContent,
  UserMessageContent,
} from '../../../generated/client/types.gen.js';
import type { OperationRequest } from '../../../generated/operations.js';
import { headerParameters } from '../../../generated/spec-constants.js';
import type { TurnRequest } from '../../agents/core-api.js';
import { GatewayError, type TurnField } from '../../domain/errors.js';
import type { ImageRef, TurnMessage } from '../../domain/messages.js';
import type { ModelParameters, ResponseFormat, TurnOptions } from '../../domain/options.js';

/** A request as a turn, and how to name the turn's inputs in errors. */
export interface ChatTurn {
  request: TurnRequest;
  /** `err` with a turn input it names renamed as this request calls it; anything else as it is. */
  named(err: unknown): unknown;
}

/** A string, or text parts joined in order. */
function contentText(content: MessageContent | null | undefined): string {
  if (content === null || content === undefined) return '';
  return typeof content === 'string' ? content : content.map((part) => part.text).join('');
}

function userMessage(content: UserMessageContent, imageParts: number[]): TurnMessage {
  if (typeof content === 'string') return { role: 'user', content };
  let text = '';
  const images: ImageRef[] = [];
  content.forEach((part, i) => {
    if (part.type === 'text') {
      text += part.text;
      return;
    }
    imageParts.push(i);
    images.push({ url: part.image_url.url, ...(part.image_url.detail === undefined ? {} : { detail: part.image_url.detail }) });
  });
  return images.length > 0 ? { role: 'user', content: text, images } : { role: 'user', content: text };
}

function turnMessage(message: ChatCompletionRequestMessage, imageParts: number[]): TurnMessage {
  switch (message.role) {
    case 'system':
    case 'developer':
      return { role: 'system', content: contentText(message.content) };
    case 'user':
      return userMessage(message.content, imageParts);
    case 'assistant':
      return {
        role: 'assistant',
        content: contentText(message.content),
        // Kept so the tool messages that follow still answer a call the model made.
        ...(message.tool_calls?.length
          ? { toolCalls: message.tool_calls.map((call) => ({ id: call.id, name: call.function.name, arguments: call.function.arguments })) }
          : {}),
      };
    case 'tool':
      return { role: 'tool', content: contentText(message.content), toolCallId: message.tool_call_id };
  }
}

function present<T>(value: T | null | undefined): value is T {
  return value !== null && value !== undefined;
}

function responseFormat(format: CreateChatCompletionRequest['response_format']): ResponseFormat | undefined {
  if (!format) return undefined;
  if (format.type !== 'json_schema') return { type: format.type };
  const { name, description, schema, strict } = format.json_schema;
  return {
    type: 'json_schema',
    name,
    ...(present(description) ? { description } : {}),
    ...(present(schema) ? { schema } : {}),
    ...(present(strict) ? { strict } : {}),
  };
}

/** The request fields beyond the messages; those that are null or absent are left out, so a provider's own defaults apply. */
export function turnOptions(body: CreateChatCompletionRequest): TurnOptions {
  const parameters: ModelParameters = {};
  if (present(body.temperature)) parameters.temperature = body.temperature;
  if (present(body.top_p)) parameters.topP = body.top_p;
  const maxTokens = body.max_completion_tokens ?? body.max_tokens;
  if (present(maxTokens)) parameters.maxTokens = maxTokens;
  if (present(body.stop)) parameters.stop = typeof body.stop === 'string' ? [body.stop] : body.stop;
  if (present(body.seed)) parameters.seed = body.seed;
  if (present(body.presence_penalty)) parameters.presencePenalty = body.presence_penalty;
  if (present(body.frequency_penalty)) parameters.frequencyPenalty = body.frequency_penalty;
  const format = responseFormat(body.response_format);
  if (format) parameters.responseFormat = format;

  const options: TurnOptions = { parameters };
  if (body.tools?.length) {
    options.tools = body.tools.map(({ function: fn }) => ({
      name: fn.name,
      ...(present(fn.description) ? { description: fn.description } : {}),
      ...(present(fn.parameters) ? { parameters: fn.parameters } : {}),
      ...(present(fn.strict) ? { strict: fn.strict } : {}),
    }));
  }
  if (present(body.tool_choice)) {
    options.toolChoice = typeof body.tool_choice === 'string' ? body.tool_choice : { name: body.tool_choice.function.name };
  }
  if (present(body.parallel_tool_calls)) options.parallelToolCalls = body.parallel_tool_calls;
  return options;
}

const IMAGE_FIELD = /^input\[(\d+)\]\.images\[(\d+)\]$/u;

/** The request of `POST /v1/chat/completions` as a turn. */
export function chatTurn(body: CreateChatCompletionRequest, headers: OperationRequest<'createChatCompletion'>['header']): ChatTurn {
  /** Per message, the content part index of each of its images. */
  const imageParts: number[][] = [];
  const input = body.messages.map((message, i) => turnMessage(message, (imageParts[i] = [])));
  const paramOf = (field: TurnField): string => {
    if (field === 'agentId') return headerParameters.AgentIdHeader;
    if (field === 'sessionKey') return headerParameters.SessionKeyHeader;
    if (field === 'input') return 'messages';
    if (field === 'idempotencyKey') return headerParameters.IdempotencyKeyHeader;
    const image = IMAGE_FIELD.exec(field);
    if (!image) return field;
    const message = Number(image[1]);
    return `messages[${message}].content[${imageParts[message]?.[Number(image[2])]}].image_url.url`;
  };
  return {
    request: {
      agentId: headers[headerParameters.AgentIdHeader],
      model: body.model,
      sessionKey: headers[headerParameters.SessionKeyHeader],
      user: body.user,
      input,
      options: turnOptions(body),
      // A JSON reply is sent whole, after the turn is recorded.
      bufferedReply: body.stream !== true,
    },
    named: (err) => (err instanceof GatewayError && err.field !== undefined ? err.named(paramOf(err.field)) : err),
  };
}
