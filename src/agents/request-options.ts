/**
 * OpenAI request fields beyond the messages, as provider-neutral options. Fields that
 * are null or absent are left out, so a provider's own defaults apply.
 */
import type { CreateChatCompletionRequest } from '../../generated/client/types.gen.js';
import type { ModelParameters, ResponseFormat, ToolChoice, ToolDefinition } from '../providers/types.js';

export interface TurnOptions {
  parameters: ModelParameters;
  tools?: ToolDefinition[];
  toolChoice?: ToolChoice;
  parallelToolCalls?: boolean;
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

/** The options of a chat completion request. */
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
