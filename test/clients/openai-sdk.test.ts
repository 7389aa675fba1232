/**
 * The official `openai` SDK as a client of the real gateway, in three set-ups: agent
 * `main` on the echo stand-in (A), on a fake OpenAI-compatible upstream (B) and on a fake
 * Anthropic upstream (C). What an application would do: create (JSON and streamed), the
 * `.stream()` helper, models, typed errors, leaving a stream early, and a tool-call round
 * trip.
 */
import { randomUUID } from 'node:crypto';
import OpenAI from 'openai';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionFunctionTool,
  ChatCompletionMessageFunctionToolCall,
  ChatCompletionMessageParam,
} from 'openai/resources/chat/completions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CLIENT_SYSTEM_PROMPT,
  SETUP_NAMES,
  expectedToolHistory,
  startSetup,
  userSessionKey,
  words,
  type AnthropicSetup,
  type ClientSetup,
  type OpenAISetup,
  type ScriptedCall,
  type SetupKind,
  type ToolSetup,
} from '../helpers/client-setups.js';
import type { TestGateway } from '../helpers/gateway.js';

function clientFor(gateway: TestGateway, apiKey = gateway.token): OpenAI {
  return new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey, maxRetries: 0 });
}

/** The rejection of `promise`; fails the test when it resolves. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to fail, and it succeeded');
}

const WEATHER_TOOL: ChatCompletionFunctionTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'The current weather in a city.',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string' }, unit: { type: 'string', enum: ['celsius', 'fahrenheit'] } },
      required: ['city'],
      additionalProperties: false,
    },
  },
};

/** The tools as the provider's API received them. */
function wireTools(kind: 'openai' | 'anthropic'): unknown {
  const fn = WEATHER_TOOL.function;
  if (kind === 'openai') return [WEATHER_TOOL];
  return [{ name: fn.name, description: fn.description, input_schema: fn.parameters }];
}

/** The one function call of a reply, checked to be a function call. */
function onlyFunctionCall(completion: ChatCompletion): ChatCompletionMessageFunctionToolCall {
  const calls = completion.choices[0]?.message.tool_calls ?? [];
  expect(calls).toHaveLength(1);
  const [call] = calls;
  if (call?.type !== 'function') throw new Error(`expected a function call, got ${JSON.stringify(call)}`);
  return call;
}

function describeSetup(kind: SetupKind): void {
  describe(`openai SDK — ${SETUP_NAMES[kind]}`, () => {
    let setup: ClientSetup;
    let client: OpenAI;
    beforeAll(async () => {
      setup = await startSetup(kind);
      client = clientFor(setup.gateway);
    });
    afterAll(() => setup?.close());
    const tools = (): ToolSetup => setup as ToolSetup;

    it('chat.completions.create (JSON): content, id, requested model, usage, finish_reason', async () => {
      const prompt = 'say something short';
      const expected = setup.scriptReply(prompt, ['Something', ' short', '.']);
      const { data: completion, response } = await client.chat.completions
        .create({ model: 'moltbot:main', messages: [{ role: 'user', content: prompt }] })
        .withResponse();
      expect(response.headers.get('x-moltbot-session-key')).toMatch(/^agent:main:openai:/u);
      expect(completion.object).toBe('chat.completion');
      expect(completion.id).toMatch(/^chatcmpl-/u);
      expect(completion.model).toBe('moltbot:main');
      expect(completion.choices).toHaveLength(1);
      expect(completion.choices[0]?.message).toMatchObject({ role: 'assistant', content: expected.text });
      expect(completion.choices[0]?.message.tool_calls).toBeUndefined();
      expect(completion.choices[0]?.finish_reason).toBe('stop');
      expect(completion.usage).toEqual(expected.usage);
    });

    it('create({stream: true, stream_options: {include_usage: true}}): text, one id, usage chunk last', async () => {
      const prompt = 'stream these few words';
      const expected = setup.scriptReply(prompt, ['Streamed', ' in', ' four', ' parts']);
      const stream = await client.chat.completions.create({
        model: 'moltbot',
        stream: true,
        stream_options: { include_usage: true },
        messages: [{ role: 'user', content: prompt }],
      });
      const chunks: ChatCompletionChunk[] = [];
      for await (const chunk of stream) chunks.push(chunk);

      expect(chunks.length).toBeGreaterThanOrEqual(4);
      expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe(expected.text);
      expect(chunks[0]?.choices[0]?.delta.role).toBe('assistant');
      for (const chunk of chunks) {
        expect(chunk.object).toBe('chat.completion.chunk');
        expect(chunk.id).toBe(chunks[0]?.id);
        expect(chunk.model).toBe('moltbot');
      }
      const last = chunks.at(-1);
      expect(last?.choices).toEqual([]);
      expect(last?.usage).toEqual(expected.usage);
      expect(chunks.at(-2)?.choices[0]?.finish_reason).toBe('stop');
      // Before the last chunk usage is null, as OpenAI sends it.
      for (const chunk of chunks.slice(0, -1)) expect(chunk.usage).toBeNull();
    });

    it('the .stream() helper: content events and finalChatCompletion()', async () => {
      const prompt = 'help me with the helper';
      const expected = setup.scriptReply(prompt, ['Helper', ' says', ' hi']);
      const runner = client.chat.completions.stream({
        model: 'moltbot:main',
        stream_options: { include_usage: true },
        messages: [{ role: 'user', content: prompt }],
      });
      const deltas: string[] = [];
      runner.on('content', (delta) => deltas.push(delta));
      const final = await runner.finalChatCompletion();
      expect(deltas.join('')).toBe(expected.text);
      expect(final.id).toMatch(/^chatcmpl-/u);
      expect(final.model).toBe('moltbot:main');
      expect(final.choices[0]?.message).toMatchObject({ role: 'assistant', content: expected.text });
      expect(final.choices[0]?.finish_reason).toBe('stop');
      expect(final.usage).toEqual(expected.usage);
      expect(await runner.finalContent()).toBe(expected.text);
    });

    it('models.list() pages through moltbot and moltbot:main; models.retrieve', async () => {
      const ids: string[] = [];
      for await (const model of client.models.list()) {
        expect(model).toMatchObject({ object: 'model', owned_by: 'moltbot' });
        ids.push(model.id);
      }
      expect(ids.sort()).toEqual(['moltbot', 'moltbot:main']);
      const main = await client.models.retrieve('moltbot:main');
      expect(main).toMatchObject({ id: 'moltbot:main', object: 'model', owned_by: 'moltbot' });
    });

    it('errors are the SDK typed errors carrying our messages, code and param', async () => {
      const ask = [{ role: 'user' as const, content: 'hi' }];
      const auth = await rejection(clientFor(setup.gateway, 'wrong-token').chat.completions.create({ model: 'moltbot', messages: ask }));
      expect(auth).toBeInstanceOf(OpenAI.AuthenticationError);
      expect((auth as InstanceType<typeof OpenAI.AuthenticationError>).status).toBe(401);
      expect((auth as Error).message).toMatch(/bearer/iu);

      const missing = await rejection(client.chat.completions.create({ model: 'moltbot:nobody', messages: ask }));
      expect(missing).toBeInstanceOf(OpenAI.NotFoundError);
      expect(missing).toMatchObject({ status: 404, code: 'model_not_found', param: 'model' });
      expect((missing as Error).message).toContain("'moltbot:nobody'");

      const empty = await rejection(client.chat.completions.create({ model: 'moltbot', messages: [] }));
      expect(empty).toBeInstanceOf(OpenAI.BadRequestError);
      expect((empty as InstanceType<typeof OpenAI.BadRequestError>).param).toMatch(/^messages/u);

      const two = await rejection(client.chat.completions.create({ model: 'moltbot', n: 2, messages: ask }));
      expect(two).toBeInstanceOf(OpenAI.BadRequestError);
      expect(two).toMatchObject({ status: 400, param: 'n', type: 'invalid_request_error' });

      // Streaming requests fail the same way: before the first byte, as an HTTP status.
      const streamed = await rejection(client.chat.completions.create({ model: 'moltbot:nobody', stream: true, messages: ask }));
      expect(streamed).toBeInstanceOf(OpenAI.NotFoundError);
    });

    it('the same `user` keeps one session: the second call is sent the first turn as history', async () => {
      const user = `sdk-user-${kind}-${randomUUID()}`;
      const first = setup.scriptReply('remember alpha', ['Noted', ' alpha.']);
      const one = await client.chat.completions.create({ model: 'moltbot', user, messages: [{ role: 'user', content: 'remember alpha' }] });
      expect(one.choices[0]?.message.content).toBe(first.text);
      setup.scriptReply('and beta', ['And', ' beta.']);
      const two = await client.chat.completions.create({ model: 'moltbot', user, messages: [{ role: 'user', content: 'and beta' }] });

      if (setup.kind === 'echo') {
        // Echo counts every word it was sent: system prompt, the first turn, the new message.
        const sent = words(CLIENT_SYSTEM_PROMPT) + words('remember alpha') + words(first.text) + words('and beta');
        expect(two.usage?.prompt_tokens).toBe(sent);
      } else {
        const body = setup.modelRequests().at(-1);
        if (setup.kind === 'openai') {
          expect(body?.messages).toEqual([
            { role: 'system', content: CLIENT_SYSTEM_PROMPT },
            { role: 'user', content: 'remember alpha' },
            { role: 'assistant', content: first.text },
            { role: 'user', content: 'and beta' },
          ]);
        } else {
          expect(body?.system).toBe(CLIENT_SYSTEM_PROMPT);
          expect(body?.messages).toEqual([
            { role: 'user', content: [{ type: 'text', text: 'remember alpha' }] },
            { role: 'assistant', content: [{ type: 'text', text: first.text }] },
            { role: 'user', content: [{ type: 'text', text: 'and beta' }] },
          ]);
        }
      }
      const turns = await setup.gateway.store.loadTurns('main', userSessionKey(user));
      expect(turns.map((t) => t.status)).toEqual(['ok', 'ok']);
    });

    if (kind === 'openai') {
      it('break out of a stream: the run is aborted, the upstream request closed, the partial reply recorded', async () => {
        const { upstream } = setup as OpenAISetup;
        const key = `client-break-${randomUUID()}`;
        const n = upstream.requests.length + 1;
        upstream.behaveOnce({ kind: 'hold', deltas: ['Partial', ' reply'], rest: [' never sent'] });
        const stream = await client.chat.completions.create(
          { model: 'moltbot', stream: true, messages: [{ role: 'user', content: 'start talking' }] },
          { headers: { 'x-moltbot-session-key': key } },
        );
        let text = '';
        for await (const chunk of stream) {
          text += chunk.choices[0]?.delta.content ?? '';
          if (text === 'Partial reply') break;
        }
        const held = await upstream.nthRequest(n);
        await held.closedEarly;

        // Turns of one session run in order: this one starts once the aborted turn is recorded.
        const next = setup.scriptReply('go on', ['Going', ' on.']);
        const after = await client.chat.completions.create(
          { model: 'moltbot', messages: [{ role: 'user', content: 'go on' }] },
          { headers: { 'x-moltbot-session-key': key } },
        );
        expect(after.choices[0]?.message.content).toBe(next.text);

        const turns = await setup.gateway.store.loadTurns('main', key);
        expect(turns).toHaveLength(2);
        expect(turns[0]).toMatchObject({
          status: 'aborted',
          input: [{ role: 'user', content: 'start talking' }],
          reply: { role: 'assistant', content: 'Partial reply' },
        });
        expect(turns[1]?.status).toBe('ok');
        // An aborted turn does not feed history.
        expect(upstream.requests[n]?.body.messages).toEqual([
          { role: 'system', content: CLIENT_SYSTEM_PROMPT },
          { role: 'user', content: 'go on' },
        ]);
      }, 10_000);

      it('an upstream 500 is an APIError 502 (InternalServerError) naming the provider, JSON and streamed', async () => {
        const { upstream } = setup as OpenAISetup;
        const failure = { kind: 'status' as const, status: 500, body: { error: { message: 'upstream exploded', type: 'server_error' } } };
        upstream.behaveOnce(failure, failure);
        const ask = [{ role: 'user' as const, content: 'fail please' }];
        for (const stream of [false, true]) {
          const err = await rejection(client.chat.completions.create({ model: 'moltbot', stream, messages: ask }));
          expect(err).toBeInstanceOf(OpenAI.APIError);
          expect(err).toBeInstanceOf(OpenAI.InternalServerError);
          expect(err).toMatchObject({ status: 502, type: 'upstream_error' });
          expect((err as Error).message).toContain("'local'");
          expect((err as Error).message).toContain('upstream exploded');
        }
      });
    }

    if (kind === 'anthropic') {
      it('a provider error mid-stream ends the iteration with OpenAI.APIError carrying our error (no status)', async () => {
        const { anthropic } = setup as AnthropicSetup;
        anthropic.queue({ kind: 'partial', deltas: ['Half', ' a reply'], then: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } });
        const stream = await client.chat.completions.create({ model: 'moltbot', stream: true, messages: [{ role: 'user', content: 'go' }] });
        let text = '';
        const err = await rejection(
          (async () => {
            for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
          })(),
        );
        expect(text).toBe('Half a reply');
        // The SDK throws the base class: the HTTP status was 200 when the error came.
        expect(err).toBeInstanceOf(OpenAI.APIError);
        expect(err).toMatchObject({ status: undefined, type: 'upstream_error', code: 'upstream_error' });
        expect((err as Error).message).toContain("The model provider 'claude' sent an error mid-reply");
        expect((err as Error).message).toContain('Overloaded');
      });
    }

    if (kind !== 'echo') {
      const CALL: ScriptedCall = { id: `call_weather_${kind}`, name: 'get_weather', arguments: '{"city":"Paris","unit":"celsius"}' };
      const RESULT = JSON.stringify({ city: 'Paris', temperature: 21, unit: 'celsius' });
      const QUESTION = 'What is the weather in Paris?';

      /** The follow-up request's model request and the session's transcript, checked. */
      async function expectRoundTrip(user: string, answer: string): Promise<void> {
        const body = tools().modelRequests().at(-1);
        const history = expectedToolHistory(tools().kind, CALL, RESULT);
        if (kind === 'openai') {
          expect(body?.messages).toEqual([{ role: 'system', content: CLIENT_SYSTEM_PROMPT }, { role: 'user', content: QUESTION }, ...history]);
        } else {
          expect(body?.messages).toEqual([{ role: 'user', content: [{ type: 'text', text: QUESTION }] }, ...history]);
        }
        const turns = await setup.gateway.store.loadTurns('main', userSessionKey(user));
        expect(turns).toHaveLength(2);
        expect(turns[0]).toMatchObject({
          status: 'ok',
          finishReason: 'tool_calls',
          input: [{ role: 'user', content: QUESTION }],
          reply: { role: 'assistant', content: '', toolCalls: [{ id: CALL.id, name: CALL.name, arguments: CALL.arguments }] },
        });
        expect(turns[1]).toMatchObject({
          status: 'ok',
          finishReason: 'stop',
          input: [{ role: 'tool', content: RESULT, toolCallId: CALL.id }],
          reply: { role: 'assistant', content: answer },
        });
      }

      it('tool calling round trip (JSON): tool_calls out, the tool result in, the final answer back', async () => {
        const user = `sdk-tools-json-${kind}-${randomUUID()}`;
        tools().scriptToolCall(CALL);
        const messages: ChatCompletionMessageParam[] = [{ role: 'user', content: QUESTION }];
        const first = await client.chat.completions.create({ model: 'moltbot:main', user, tools: [WEATHER_TOOL], messages });
        expect(first.choices[0]?.finish_reason).toBe('tool_calls');
        expect(first.choices[0]?.message.content).toBeNull();
        const call = onlyFunctionCall(first);
        expect(call.id).toBe(CALL.id);
        expect(call.function.name).toBe('get_weather');
        expect(JSON.parse(call.function.arguments)).toEqual({ city: 'Paris', unit: 'celsius' });
        expect(tools().modelRequests().at(-1)?.tools).toEqual(wireTools(tools().kind));

        // What applications do: append the assistant message as received, then the result.
        const message = first.choices[0]?.message;
        if (!message) throw new Error('no message');
        messages.push(message, { role: 'tool', tool_call_id: call.id, content: RESULT });
        const expected = setup.scriptReply('', ['It is', ' 21 °C', ' in Paris.']);
        const second = await client.chat.completions.create({ model: 'moltbot:main', user, tools: [WEATHER_TOOL], messages });
        expect(second.choices[0]?.finish_reason).toBe('stop');
        expect(second.choices[0]?.message.content).toBe(expected.text);
        await expectRoundTrip(user, expected.text);
      });

      it('tool calling round trip (streamed, .stream() helper): tool calls accumulated by finalChatCompletion()', async () => {
        const user = `sdk-tools-stream-${kind}-${randomUUID()}`;
        tools().scriptToolCall(CALL);
        const messages: ChatCompletionMessageParam[] = [{ role: 'user', content: QUESTION }];
        const runner = client.chat.completions.stream({
          model: 'moltbot:main',
          user,
          tools: [WEATHER_TOOL],
          stream_options: { include_usage: true },
          messages,
        });
        const doneArguments: string[] = [];
        runner.on('tool_calls.function.arguments.done', (event) => doneArguments.push(event.arguments));
        const first = await runner.finalChatCompletion();
        expect(first.choices[0]?.finish_reason).toBe('tool_calls');
        const call = onlyFunctionCall(first);
        expect(call.id).toBe(CALL.id);
        expect(call.type).toBe('function');
        expect(call.function.name).toBe('get_weather');
        expect(JSON.parse(call.function.arguments)).toEqual({ city: 'Paris', unit: 'celsius' });
        expect(doneArguments).toEqual([CALL.arguments]);

        const message = first.choices[0]?.message;
        if (!message) throw new Error('no message');
        messages.push(
          { role: 'assistant', content: message.content, tool_calls: message.tool_calls ?? [] },
          { role: 'tool', tool_call_id: call.id, content: RESULT },
        );
        const expected = setup.scriptReply('', ['Twenty-one', ' degrees.']);
        const answer = await client.chat.completions
          .stream({ model: 'moltbot:main', user, tools: [WEATHER_TOOL], messages })
          .finalContent();
        expect(answer).toBe(expected.text);
        await expectRoundTrip(user, expected.text);
      });
    }
  });
}

describeSetup('echo');
describeSetup('openai');
describeSetup('anthropic');
