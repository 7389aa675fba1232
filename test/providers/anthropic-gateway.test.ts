/**
 * An agent on an `anthropic-messages` provider, end to end: OpenAI-shaped requests to
 * the gateway, Anthropic-shaped requests to a fake Messages API, and back.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ConfigFile } from '../../src/config/types.js';
import { startFakeAnthropic, type FakeAnthropic } from '../helpers/fake-anthropic.js';
import { TEST_TOKEN, postChat, startGateway, type TestGateway } from '../helpers/gateway.js';
import { readCompletion, readError, readStream, streamedText } from '../helpers/read.js';

const API_KEY = 'sk-ant-test';

function config(baseUrl: string): ConfigFile {
  return {
    gateway: { auth: { token: TEST_TOKEN }, http: { endpoints: { chatCompletions: { enabled: true } } } },
    models: { providers: { claude: { api: 'anthropic-messages', baseUrl, apiKey: API_KEY, maxRetries: 0 } } },
    session: { reset: { mode: 'never' } },
    agents: { list: [{ id: 'main', model: 'claude/claude-test', systemPrompt: 'Be brief.' }] },
  };
}

describe('agent on anthropic-messages', () => {
  let upstream: FakeAnthropic;
  let gateway: TestGateway;
  beforeAll(async () => {
    upstream = await startFakeAnthropic();
    gateway = await startGateway(config(upstream.baseUrl));
  });
  afterAll(async () => {
    await gateway.close();
    await upstream.close();
  });
  beforeEach(() => {
    upstream.requests.splice(0);
    upstream.behave({ kind: 'reply' });
  });

  it('answers JSON with the reply, usage and finish_reason; the system prompt goes in `system`', async () => {
    upstream.behave({ kind: 'reply', deltas: ['Hi', ' there.'], usage: { input_tokens: 9, output_tokens: 3 } });
    const body = await readCompletion(await postChat(gateway, { model: 'moltbot', messages: [{ role: 'user', content: 'hello' }] }));
    expect(body.choices[0]?.message.content).toBe('Hi there.');
    expect(body.choices[0]?.finish_reason).toBe('stop');
    expect(body.usage).toEqual({ prompt_tokens: 9, completion_tokens: 3, total_tokens: 12 });

    expect(upstream.requests).toHaveLength(1);
    const [req] = upstream.requests;
    expect(req?.path).toBe('/v1/messages');
    expect(req?.headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect(req?.headers['anthropic-version']).toBeTruthy();
    expect(req?.body).toMatchObject({
      model: 'claude-test',
      max_tokens: 4096,
      stream: true,
      system: 'Be brief.',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'hello' }] }],
    });
  });

  it('streams the reply as chunks, with the mapped finish_reason', async () => {
    upstream.behave({ kind: 'reply', deltas: ['one', ' two', ' three'], stopReason: 'max_tokens' });
    const stream = await readStream(
      await postChat(gateway, { model: 'moltbot', stream: true, messages: [{ role: 'user', content: 'count' }] }),
    );
    expect(stream.error).toBeUndefined();
    expect(streamedText(stream)).toBe('one two three');
    expect(stream.chunks.at(-1)?.choices[0]?.finish_reason).toBe('length');
    expect(upstream.requests[0]?.body.system).toBe('Be brief.');
  });

  it('sends the session history as alternating turns', async () => {
    const ask = (content: string): Record<string, unknown> => ({ model: 'moltbot', user: 'alternating', messages: [{ role: 'user', content }] });
    upstream.behave({ kind: 'reply', deltas: ['First answer.'] });
    await readCompletion(await postChat(gateway, ask('first')));
    upstream.behave({ kind: 'reply', deltas: ['Second answer.'] });
    await readCompletion(await postChat(gateway, ask('second')));
    expect(upstream.requests[1]?.body.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'first' }] },
      { role: 'assistant', content: [{ type: 'text', text: 'First answer.' }] },
      { role: 'user', content: [{ type: 'text', text: 'second' }] },
    ]);
    expect(upstream.requests[1]?.body.system).toBe('Be brief.');
  });

  it('an upstream 401 is a 502 upstream_error naming the provider, without the key', async () => {
    upstream.behave({ kind: 'status', status: 401, errorType: 'authentication_error', message: `invalid x-api-key ${API_KEY}` });
    const res = await postChat(gateway, { model: 'moltbot', messages: [{ role: 'user', content: 'hello' }] });
    const raw = await res.clone().text();
    const error = await readError(res, 502);
    expect(error.type).toBe('upstream_error');
    expect(error.message).toContain("'claude'");
    expect(error.message).toContain('401');
    expect(raw).not.toContain(API_KEY);
    expect(upstream.requests).toHaveLength(1);
  });

  it('a stream cut off mid-reply ends the SSE response with an error event', async () => {
    upstream.behave({ kind: 'partial', deltas: ['partial'], then: 'destroy' });
    const stream = await readStream(
      await postChat(gateway, { model: 'moltbot', stream: true, messages: [{ role: 'user', content: 'go' }] }),
    );
    expect(streamedText(stream)).toBe('partial');
    expect(stream.error?.type).toBe('upstream_error');
  });
});
