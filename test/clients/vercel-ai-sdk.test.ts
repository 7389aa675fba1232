/**
 * The Vercel AI SDK (`ai` with `@ai-sdk/openai-compatible`) as a client of the real
 * gateway, in the three set-ups: agent `main` on the echo stand-in (A), on a fake
 * OpenAI-compatible upstream (B) and on a fake Anthropic upstream (C). generateText,
 * streamText (usage needs `includeUsage`, which sends `stream_options`), `user` through
 * provider options, and the SDK's own tool loop (`tools` + `stopWhen`).
 */
import { randomUUID } from 'node:crypto';
import { createOpenAICompatible, type OpenAICompatibleProvider } from '@ai-sdk/openai-compatible';
import { APICallError, generateText, stepCountIs, streamText, tool } from 'ai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
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
  type WireUsage,
} from '../helpers/client-setups.js';

/** The usage fields the SDK fills from the gateway's `usage`. */
function sdkUsage(usage: WireUsage): { inputTokens: number; outputTokens: number; totalTokens: number } {
  return { inputTokens: usage.prompt_tokens, outputTokens: usage.completion_tokens, totalTokens: usage.total_tokens };
}

function describeSetup(kind: SetupKind): void {
  describe(`Vercel AI SDK — ${SETUP_NAMES[kind]}`, () => {
    let setup: ClientSetup;
    let provider: OpenAICompatibleProvider;
    beforeAll(async () => {
      setup = await startSetup(kind);
      provider = createOpenAICompatible({ name: 'moltbot', baseURL: `${setup.gateway.url}/v1`, apiKey: setup.gateway.token, includeUsage: true });
    });
    afterAll(() => setup?.close());
    const tools = (): ToolSetup => setup as ToolSetup;

    it('generateText: text, usage and finish reason as the gateway reported them', async () => {
      const prompt = 'generate a little text';
      const expected = setup.scriptReply(prompt, ['A little', ' text.']);
      const result = await generateText({ model: provider('moltbot:main'), prompt, maxRetries: 0 });
      expect(result.text).toBe(expected.text);
      expect(result.finishReason).toBe('stop');
      expect(result.usage).toMatchObject(sdkUsage(expected.usage));
      expect(result.response.modelId).toBe('moltbot:main');
    });

    it('streamText: textStream, real usage (includeUsage → stream_options), finish reason stop', async () => {
      const prompt = 'stream a little text';
      const expected = setup.scriptReply(prompt, ['Streaming', ' a', ' little', ' text.']);
      const errors: unknown[] = [];
      const result = streamText({ model: provider('moltbot'), prompt, maxRetries: 0, onError: ({ error }) => void errors.push(error) });
      const parts: string[] = [];
      for await (const text of result.textStream) parts.push(text);
      expect(errors).toEqual([]);
      expect(parts.join('')).toBe(expected.text);
      expect(await result.finishReason).toBe('stop');
      expect(await result.usage).toMatchObject(sdkUsage(expected.usage));
    });

    it('`user` through providerOptions keeps one session: the second call is sent the first turn', async () => {
      const user = `ai-user-${kind}-${randomUUID()}`;
      const providerOptions = { moltbot: { user } };
      const first = setup.scriptReply('remember gamma', ['Noted', ' gamma.']);
      const one = await generateText({ model: provider('moltbot'), prompt: 'remember gamma', providerOptions, maxRetries: 0 });
      expect(one.text).toBe(first.text);
      setup.scriptReply('and delta', ['And', ' delta.']);
      const two = await generateText({ model: provider('moltbot'), prompt: 'and delta', providerOptions, maxRetries: 0 });

      if (setup.kind === 'echo') {
        const sent = words(CLIENT_SYSTEM_PROMPT) + words('remember gamma') + words(first.text) + words('and delta');
        expect(two.usage.inputTokens).toBe(sent);
      } else if (setup.kind === 'openai') {
        expect(setup.modelRequests().at(-1)?.messages).toEqual([
          { role: 'system', content: CLIENT_SYSTEM_PROMPT },
          { role: 'user', content: 'remember gamma' },
          { role: 'assistant', content: first.text },
          { role: 'user', content: 'and delta' },
        ]);
      } else {
        expect(setup.modelRequests().at(-1)?.messages).toEqual([
          { role: 'user', content: [{ type: 'text', text: 'remember gamma' }] },
          { role: 'assistant', content: [{ type: 'text', text: first.text }] },
          { role: 'user', content: [{ type: 'text', text: 'and delta' }] },
        ]);
      }
      const turns = await setup.gateway.store.loadTurns('main', userSessionKey(user));
      expect(turns.map((t) => t.status)).toEqual(['ok', 'ok']);
    });

    if (kind === 'openai') {
      it('abortSignal mid-stream aborts the run: upstream request closed, partial reply recorded as aborted', async () => {
        const { upstream } = setup as OpenAISetup;
        const key = `ai-abort-${randomUUID()}`;
        const headers = { 'x-moltbot-session-key': key };
        const n = upstream.requests.length + 1;
        upstream.behaveOnce({ kind: 'hold', deltas: ['Partial', ' reply'], rest: [' never sent'] });
        const controller = new AbortController();
        const result = streamText({ model: provider('moltbot'), prompt: 'start talking', headers, abortSignal: controller.signal, maxRetries: 0, onError: () => undefined });
        let text = '';
        for await (const part of result.textStream) {
          text += part;
          if (text === 'Partial reply') controller.abort();
        }
        await (await upstream.nthRequest(n)).closedEarly;
        // The next turn of the session starts once the aborted one is recorded.
        setup.scriptReply('go on', ['Going on.']);
        await generateText({ model: provider('moltbot'), prompt: 'go on', headers, maxRetries: 0 });
        const turns = await setup.gateway.store.loadTurns('main', key);
        expect(turns.map((t) => t.status)).toEqual(['aborted', 'ok']);
        expect(turns[0]?.reply).toEqual({ role: 'assistant', content: 'Partial reply' });
      }, 10_000);

      it('an upstream 500 is an APICallError with status 502 and our message', async () => {
        const { upstream } = setup as OpenAISetup;
        upstream.behaveOnce({ kind: 'status', status: 500, body: { error: { message: 'upstream exploded', type: 'server_error' } } });
        let caught: unknown;
        try {
          await generateText({ model: provider('moltbot'), prompt: 'fail please', maxRetries: 0 });
        } catch (err) {
          caught = err;
        }
        expect(APICallError.isInstance(caught)).toBe(true);
        const err = caught as APICallError;
        expect(err.statusCode).toBe(502);
        expect(err.message).toContain("The model provider 'local' answered 500");
        expect(err.message).toContain('upstream exploded');
        expect(err.isRetryable).toBe(true);
      });
    }

    if (kind === 'anthropic') {
      it('a provider error mid-stream reaches streamText as an error part and finish reason error', async () => {
        const { anthropic } = setup as AnthropicSetup;
        anthropic.queue({ kind: 'partial', deltas: ['Half', ' a reply'], then: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } });
        const errors: unknown[] = [];
        const result = streamText({ model: provider('moltbot'), prompt: 'go', maxRetries: 0, onError: ({ error }) => void errors.push(error) });
        let text = '';
        for await (const part of result.textStream) text += part;
        expect(text).toBe('Half a reply');
        expect(await result.finishReason).toBe('error');
        // The SDK hands over our error object as parsed, not an Error instance.
        expect(errors).toEqual([
          expect.objectContaining({ type: 'upstream_error', code: 'upstream_error', message: expect.stringContaining("The model provider 'claude' sent an error mid-reply") }),
        ]);
      });
    }

    if (kind !== 'echo') {
      const CALL: ScriptedCall = { id: `call_ai_${kind}`, name: 'get_weather', arguments: '{"city":"Paris"}' };
      const QUESTION = 'Is it warm in Paris?';
      const RESULT = { city: 'Paris', temperature: 21 };
      const weatherTools = (executed: string[]) => ({
        get_weather: tool({
          description: 'The current weather in a city.',
          inputSchema: z.object({ city: z.string() }),
          execute: async ({ city }) => {
            executed.push(city);
            return { city, temperature: 21 };
          },
        }),
      });

      /** The second model request carries the call and its result, in the provider's shape. */
      function expectSecondRequest(before: number): void {
        const bodies = tools().modelRequests().slice(before);
        expect(bodies).toHaveLength(2);
        const history = expectedToolHistory(tools().kind, CALL, JSON.stringify(RESULT));
        if (kind === 'openai') {
          expect(bodies[0]?.tools).toEqual([
            { type: 'function', function: expect.objectContaining({ name: 'get_weather', description: 'The current weather in a city.' }) },
          ]);
          expect(bodies[1]?.messages).toEqual([{ role: 'system', content: CLIENT_SYSTEM_PROMPT }, { role: 'user', content: QUESTION }, ...history]);
        } else {
          expect(bodies[0]?.tools).toEqual([expect.objectContaining({ name: 'get_weather', input_schema: expect.objectContaining({ type: 'object' }) })]);
          expect(bodies[1]?.messages).toEqual([{ role: 'user', content: [{ type: 'text', text: QUESTION }] }, ...history]);
        }
      }

      it('tool loop with generateText: call, execute, answer in 2 steps', async () => {
        const before = tools().modelRequests().length;
        tools().scriptToolCall(CALL);
        const expected = setup.scriptReply('', ['It is', ' 21 degrees.']);
        const executed: string[] = [];
        const result = await generateText({
          model: provider('moltbot:main'),
          prompt: QUESTION,
          tools: weatherTools(executed),
          stopWhen: stepCountIs(2),
          maxRetries: 0,
        });
        expect(executed).toEqual(['Paris']);
        expect(result.steps).toHaveLength(2);
        expect(result.steps[0]?.finishReason).toBe('tool-calls');
        expect(result.steps[0]?.toolCalls).toMatchObject([{ toolCallId: CALL.id, toolName: 'get_weather', input: { city: 'Paris' } }]);
        expect(result.steps[0]?.toolResults).toMatchObject([{ toolCallId: CALL.id, output: RESULT }]);
        expect(result.text).toBe(expected.text);
        expect(result.finishReason).toBe('stop');
        expectSecondRequest(before);
      });

      it('tool loop with streamText: call, execute, answer in 2 steps', async () => {
        const before = tools().modelRequests().length;
        tools().scriptToolCall(CALL);
        const expected = setup.scriptReply('', ['Warm', ' enough.']);
        const executed: string[] = [];
        const errors: unknown[] = [];
        const result = streamText({
          model: provider('moltbot:main'),
          prompt: QUESTION,
          tools: weatherTools(executed),
          stopWhen: stepCountIs(2),
          maxRetries: 0,
          onError: ({ error }) => void errors.push(error),
        });
        let text = '';
        for await (const part of result.textStream) text += part;
        expect(errors).toEqual([]);
        expect(executed).toEqual(['Paris']);
        const steps = await result.steps;
        expect(steps).toHaveLength(2);
        expect(steps[0]?.toolCalls).toMatchObject([{ toolCallId: CALL.id, toolName: 'get_weather', input: { city: 'Paris' } }]);
        expect(steps[0]?.toolResults).toMatchObject([{ toolCallId: CALL.id, output: RESULT }]);
        expect(text).toBe(expected.text);
        expect(await result.finishReason).toBe('stop');
        expectSecondRequest(before);
      });
    }
  });
}

describeSetup('echo');
describeSetup('openai');
describeSetup('anthropic');
