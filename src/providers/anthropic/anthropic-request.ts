/**
 * Our request options (parameters, tools, tool choice) as Anthropic Messages API request
 * fields. Pure: no network, no SDK runtime, only its types.
 */
import type {
  MessageCreateParamsBase,
  Tool,
  ToolChoice as AnthropicToolChoice,
} from '@anthropic-ai/sdk/resources/messages';
import type { ToolChoice, ToolDefinition } from '../../domain/options.js';
import type { ModelRequest } from '../types.js';

/** The request fields this module decides. */
export type AnthropicOptions = Pick<MessageCreateParamsBase, 'max_tokens' | 'stop_sequences' | 'tools' | 'tool_choice'>;

function toTool(tool: ToolDefinition): Tool {
  return {
    name: tool.name,
    ...(tool.description === undefined ? {} : { description: tool.description }),
    // Anthropic requires an object schema; a function without parameters takes none.
    input_schema: (tool.parameters as Tool.InputSchema | undefined) ?? { type: 'object', properties: {} },
    ...(tool.strict === undefined ? {} : { strict: tool.strict }),
  };
}

function toToolChoice(choice: ToolChoice | undefined, parallel: boolean | undefined): AnthropicToolChoice {
  // Anthropic has no request-wide switch for parallel calls: it is a flag of the choice.
  const single = parallel === false ? { disable_parallel_tool_use: true } : {};
  if (choice === undefined || choice === 'auto') return { type: 'auto', ...single };
  if (choice === 'required') return { type: 'any', ...single };
  // `none` takes no flag: no call at all is already at most one.
  if (choice === 'none') return { type: 'none' };
  return { type: 'tool', name: choice.name, ...single };
}

/**
 * The request fields besides model, prompt and `stream`. Forwarded: `maxTokens` as
 * `max_tokens` (over the configured `defaultMaxTokens`), `stop` as `stop_sequences`,
 * tools (`input_schema` = the parameters schema, and `strict`) and tool choice, with
 * `parallelToolCalls: false` as `disable_parallel_tool_use`.
 *
 * Left out, because the API version SDK 1.x speaks (2026-10-21) has no such field:
 * `temperature` and `topP` (that version answers any sampling parameter with 400, even
 * at its default value, so forwarding one would fail every request that carries it),
 * `seed`, the penalties and `responseFormat`.
 * Tool choice is sent only with tools: without any it means nothing, and the API would
 * reject it.
 */
export function toAnthropicOptions(request: ModelRequest, defaultMaxTokens: number): AnthropicOptions {
  const parameters = request.parameters ?? {};
  const options: AnthropicOptions = { max_tokens: parameters.maxTokens ?? defaultMaxTokens };
  if (parameters.stop?.length) options.stop_sequences = parameters.stop;
  if (request.tools?.length) {
    options.tools = request.tools.map(toTool);
    if (request.toolChoice !== undefined || request.parallelToolCalls === false) {
      options.tool_choice = toToolChoice(request.toolChoice, request.parallelToolCalls);
    }
  }
  return options;
}
