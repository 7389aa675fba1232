/**
 * A client written the way an openapi-typescript 7 + openapi-fetch user writes one, from
 * types generated out of openapi.yaml into `./oats/` (by the test, in a temp dir). It must
 * type-check with the project's compiler options and run against the real gateway.
 */
import createClient from 'openapi-fetch';
import { EventSourceParserStream } from 'eventsource-parser/stream';
import type { components, paths } from './oats/gateway.js';
import { answerSchema, weatherParameters, type ProgramResult } from './shared.js';

type Schemas = components['schemas'];
type Chunk = Schemas['CreateChatCompletionStreamResponse'];
type StreamError = Schemas['ErrorResponse'];
type Tool = Schemas['ChatCompletionTool'];
type Message = Schemas['ChatCompletionRequestMessage'];

/** `'application/json'`: the 200 also has `text/event-stream`, which streams go through with `parseAs: 'stream'`. */
export function gatewayClient(baseUrl: string, token: string) {
  return createClient<paths, 'application/json'>({ baseUrl, headers: { authorization: `Bearer ${token}` } });
}
type Client = ReturnType<typeof gatewayClient>;

const tools: Tool[] = [
  { type: 'function', function: { name: 'get_weather', description: 'Current weather', parameters: weatherParameters, strict: true } },
];

/** Create with tools and a json_schema response format, then answer the model's tool call. */
export async function toolRoundTrip(client: Client, agentId: string): Promise<ProgramResult> {
  const question: Message = { role: 'user', content: 'Weather in Paris?' };
  const { data, error, response } = await client.POST('/v1/chat/completions', {
    params: { header: { 'x-moltbot-agent-id': agentId, 'x-request-id': 'req-openapi-fetch' } },
    body: {
      model: 'moltbot',
      messages: [question],
      tools,
      tool_choice: 'auto',
      response_format: { type: 'json_schema', json_schema: { name: 'answer', schema: answerSchema, strict: true } },
    },
  });
  if (error) throw new Error(`${response.status} ${error.error.code ?? ''}: ${error.error.message}`);
  const choice = data.choices[0];
  if (!choice) throw new Error('no choice');
  const logprobs: Schemas['ChatCompletionLogprobsOrNull'] = choice.logprobs;
  if (logprobs !== null) throw new Error('the gateway sends no logprobs');
  const sessionKey = response.headers.get('x-moltbot-session-key');
  const call = choice.message.tool_calls?.[0];
  if (!call) return { reply: choice.message.content, call: undefined, sessionKey };
  const args: unknown = JSON.parse(call.function.arguments);
  const next = await client.POST('/v1/chat/completions', {
    params: { header: { 'x-moltbot-agent-id': agentId, ...(sessionKey ? { 'x-moltbot-session-key': sessionKey } : {}) } },
    body: {
      model: 'moltbot',
      messages: [question, { role: 'assistant', content: null, tool_calls: [call] }, { role: 'tool', tool_call_id: call.id, content: JSON.stringify({ temperature: 21 }) }],
      tools,
    },
  });
  if (next.error) throw new Error(next.error.error.message);
  return { reply: next.data.choices[0]?.message.content ?? null, call: { name: call.function.name, arguments: args }, sessionKey };
}

/** A stream: each `data:` is a chunk, an error after the stream started, or `[DONE]`. */
export async function streamText(client: Client, agentId: string): Promise<{ text: string; totalTokens: number | undefined }> {
  const { response, error } = await client.POST('/v1/chat/completions', {
    params: { header: { 'x-moltbot-agent-id': agentId } },
    body: { model: 'moltbot', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'hi' }] },
    parseAs: 'stream',
  });
  if (error || !response.body) throw new Error(`stream failed with ${response.status}`);
  let text = '';
  let totalTokens: number | undefined;
  const events = response.body.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream());
  for await (const event of events) {
    if (event.data === '[DONE]') break;
    const parsed = JSON.parse(event.data) as Chunk | StreamError;
    if ('error' in parsed) throw new Error(parsed.error.message);
    text += parsed.choices[0]?.delta.content ?? '';
    if (parsed.usage) totalTokens = parsed.usage.total_tokens;
  }
  return { text, totalTokens };
}

/** A typed error: the error body and its documented code. */
export async function refusedCode(baseUrl: string): Promise<string | null> {
  const { error, response } = await gatewayClient(baseUrl, 'not-the-secret').POST('/v1/chat/completions', {
    body: { model: 'moltbot', messages: [{ role: 'user', content: 'hi' }] },
  });
  if (response.status !== 401 || !error) throw new Error(`expected 401, got ${response.status}`);
  return error.error.code;
}
