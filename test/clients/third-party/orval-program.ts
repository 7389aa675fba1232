/**
 * A client written the way an orval 7 (`client: 'fetch'`) user writes one, from code
 * generated out of openapi.yaml into `./orval/` (by the test, in a temp dir). orval's
 * generated function reads a body with `res.text()` and `JSON.parse`, so the stream goes
 * through its URL builder and model types with `fetch`.
 */
import { EventSourceParserStream } from 'eventsource-parser/stream';
import { createChatCompletion, getCreateChatCompletionUrl } from './orval/gateway';
import type {
  ChatCompletionRequestMessage,
  ChatCompletionTool,
  CreateChatCompletionRequest,
  CreateChatCompletionStreamResponse,
  ErrorResponse,
} from './orval/model';
import { configureGateway, gatewayUrl } from './orval-fetch';
import { answerSchema, weatherParameters, type ProgramResult } from './shared';

export { configureGateway };

const tools: ChatCompletionTool[] = [
  { type: 'function', function: { name: 'get_weather', description: 'Current weather', parameters: weatherParameters, strict: true } },
];

/** Create with tools and a json_schema response format, then answer the model's tool call. */
export async function toolRoundTrip(agentId: string): Promise<ProgramResult> {
  const question: ChatCompletionRequestMessage = { role: 'user', content: 'Weather in Paris?' };
  const res = await createChatCompletion(
    {
      model: 'moltbot',
      messages: [question],
      tools,
      tool_choice: 'auto',
      response_format: { type: 'json_schema', json_schema: { name: 'answer', schema: answerSchema, strict: true } },
    },
    { 'x-moltbot-agent-id': agentId, 'x-request-id': 'req-orval' },
  );
  if (res.status !== 200) throw new Error(`${res.status} ${res.data.error.code ?? ''}: ${res.data.error.message}`);
  // The 200 is typed application/json | text/event-stream (a string): narrow to the JSON body.
  if (typeof res.data === 'string') throw new Error('expected JSON, got an event stream');
  const choice = res.data.choices[0];
  if (!choice) throw new Error('no choice');
  if (choice.logprobs !== null) throw new Error('the gateway sends no logprobs');
  const sessionKey = res.headers.get('x-moltbot-session-key');
  const call = choice.message.tool_calls?.[0];
  if (!call) return { reply: choice.message.content, call: undefined, sessionKey };
  const args: unknown = JSON.parse(call.function.arguments);
  const messages: ChatCompletionRequestMessage[] = [
    question,
    { role: 'assistant', content: null, tool_calls: [call] },
    { role: 'tool', tool_call_id: call.id, content: JSON.stringify({ temperature: 21 }) },
  ];
  const next = await createChatCompletion({ model: 'moltbot', messages, tools }, { 'x-moltbot-agent-id': agentId, ...(sessionKey ? { 'x-moltbot-session-key': sessionKey } : {}) });
  if (next.status !== 200 || typeof next.data === 'string') throw new Error(`follow-up failed: ${next.status}`);
  return { reply: next.data.choices[0]?.message.content ?? null, call: { name: call.function.name, arguments: args }, sessionKey };
}

/** A stream: each `data:` is a chunk, an error after the stream started, or `[DONE]`. */
export async function streamText(token: string, agentId: string): Promise<{ text: string; totalTokens: number | undefined }> {
  const body: CreateChatCompletionRequest = { model: 'moltbot', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'hi' }] };
  const res = await fetch(gatewayUrl(getCreateChatCompletionUrl()), {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}`, 'x-moltbot-agent-id': agentId },
    body: JSON.stringify(body),
  });
  if (!res.ok || !res.body) throw new Error(`stream failed with ${res.status}`);
  let text = '';
  let totalTokens: number | undefined;
  const events = res.body.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream());
  for await (const event of events) {
    if (event.data === '[DONE]') break;
    const parsed = JSON.parse(event.data) as CreateChatCompletionStreamResponse | ErrorResponse;
    if ('error' in parsed) throw new Error(parsed.error.message);
    text += parsed.choices[0]?.delta.content ?? '';
    if (parsed.usage) totalTokens = parsed.usage.total_tokens;
  }
  return { text, totalTokens };
}
