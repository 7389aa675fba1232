/**
 * Request-level errors in OpenAI's shape: disabled endpoint and unknown routes (404),
 * wrong methods (405 + Allow), bodies over the limit (413, declared or chunked),
 * unparseable or non-object JSON and schema violations (400 naming the param). None of
 * them reaches the model.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ConfigFile } from '../../src/config/types.js';
import { TEST_TOKEN, postChat } from '../helpers/gateway.js';
import { readCompletion, readError } from '../helpers/read.js';
import { jsonHeaders, rawRequest, startTwoAgentGateway, type TwoAgentSetup } from '../helpers/scenarios.js';

let setup: TwoAgentSetup | undefined;
async function start(edit?: (file: ConfigFile) => void): Promise<TwoAgentSetup> {
  setup = await startTwoAgentGateway(edit ? { edit } : {});
  return setup;
}
afterEach(async () => {
  await setup?.close();
  setup = undefined;
});

const VALID = { model: 'moltbot:beta', messages: [{ role: 'user', content: 'hi' }] };

/** A valid request body of exactly `size` bytes (padding in the user message). */
function bodyOfSize(size: number): Buffer {
  const skeleton = JSON.stringify({ model: 'moltbot:beta', messages: [{ role: 'user', content: '' }] });
  const pad = size - Buffer.byteLength(skeleton);
  if (pad < 0) throw new Error(`a body cannot be as small as ${size} bytes`);
  const body = Buffer.from(JSON.stringify({ model: 'moltbot:beta', messages: [{ role: 'user', content: 'x'.repeat(pad) }] }));
  expect(body.length).toBe(size);
  return body;
}

/** Splits a buffer into chunks of `size` bytes, for a chunked request body. */
function chunksOf(buffer: Buffer, size: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let i = 0; i < buffer.length; i += size) chunks.push(buffer.subarray(i, i + size));
  return chunks;
}

describe('disabled endpoint', () => {
  async function expectLikeUnknownRoute(gatewaySetup: TwoAgentSetup): Promise<void> {
    const { gateway, upstream } = gatewaySetup;
    const disabled = await readError(await postChat(gateway, VALID), 404);
    const unknown = await readError(
      await fetch(`${gateway.url}/v1/nope`, { method: 'POST', headers: jsonHeaders() as Record<string, string>, body: JSON.stringify(VALID) }),
      404,
    );
    expect({ ...disabled, message: undefined }).toEqual({ ...unknown, message: undefined });
    expect(disabled.type).toBe('invalid_request_error');
    // Streaming and other methods are not told the path exists either.
    await readError(await postChat(gateway, { ...VALID, stream: true }), 404);
    const get = await fetch(`${gateway.url}/v1/chat/completions`, { headers: { authorization: `Bearer ${TEST_TOKEN}` } });
    expect(get.headers.get('allow')).toBeNull();
    await readError(get, 404);
    expect(upstream.requests).toHaveLength(0);
  }

  it('answers 404 like an unknown route when enabled is false', async () => {
    const gatewaySetup = await start((file) => {
      file.gateway = { ...file.gateway, http: { endpoints: { chatCompletions: { enabled: false } } } };
    });
    expect(gatewaySetup.gateway.config.gateway.http.chatCompletionsEnabled).toBe(false);
    await expectLikeUnknownRoute(gatewaySetup);
  });

  it('answers 404 like an unknown route when enabled is absent (the default)', async () => {
    const gatewaySetup = await start((file) => {
      file.gateway = { ...file.gateway, http: {} };
    });
    expect(gatewaySetup.gateway.config.gateway.http.chatCompletionsEnabled).toBe(false);
    await expectLikeUnknownRoute(gatewaySetup);
  });
});

describe('routes and methods', () => {
  it('an unknown route is a 404 in OpenAI shape', async () => {
    const { gateway } = await start();
    for (const path of ['/v1/nope', '/v1/chat/completions/extra', '/']) {
      await readError(await fetch(`${gateway.url}${path}`, { method: 'POST', headers: jsonHeaders() as Record<string, string>, body: '{}' }), 404);
    }
  });

  it.each(['GET', 'PUT', 'DELETE', 'PATCH'])('%s on the enabled endpoint is a 405 with Allow: POST', async (method) => {
    const { gateway, upstream } = await start();
    const res = await fetch(`${gateway.url}/v1/chat/completions`, {
      method,
      headers: jsonHeaders() as Record<string, string>,
      ...(method === 'GET' ? {} : { body: JSON.stringify(VALID) }),
    });
    expect(res.headers.get('allow')).toBe('POST');
    const error = await readError(res, 405);
    expect(error.type).toBe('invalid_request_error');
    expect(error.code).toBe('method_not_allowed');
    expect(upstream.requests).toHaveLength(0);
  });
});

describe('body size limit', () => {
  async function expectTooLarge(res: Response, limit: number): Promise<void> {
    const error = await readError(res, 413);
    expect(error.code).toBe('request_too_large');
    expect(error.type).toBe('invalid_request_error');
    expect(error.message).toContain(String(limit));
  }

  it('refuses a body over the default 1 MiB, declared or chunked, and keeps serving', async () => {
    const { gateway, upstream } = await start();
    const limit = 1024 * 1024;
    expect(gateway.config.gateway.http.maxBodyBytes).toBe(limit);
    const body = bodyOfSize(limit + 1);
    await expectTooLarge(await postChat(gateway, body.toString('utf8')), limit);
    await expectTooLarge(await rawRequest(`${gateway.url}/v1/chat/completions`, { headers: jsonHeaders(), body: chunksOf(body, 64 * 1024) }), limit);
    expect(upstream.requests).toHaveLength(0);
    // A body at the limit is fine.
    await readCompletion(await postChat(gateway, bodyOfSize(limit).toString('utf8')));
    expect(upstream.requests).toHaveLength(1);
  });

  it('applies a configured gateway.http.maxBodyBytes, declared or chunked', async () => {
    const { gateway, upstream } = await start((file) => {
      file.gateway = { ...file.gateway, http: { maxBodyBytes: 4096, endpoints: { chatCompletions: { enabled: true } } } };
    });
    await expectTooLarge(await rawRequest(`${gateway.url}/v1/chat/completions`, { headers: jsonHeaders(), body: bodyOfSize(4097) }), 4096);
    await expectTooLarge(await postChat(gateway, bodyOfSize(5000).toString('utf8')), 4096);
    await expectTooLarge(await rawRequest(`${gateway.url}/v1/chat/completions`, { headers: jsonHeaders(), body: chunksOf(bodyOfSize(5000), 1000) }), 4096);
    expect(upstream.requests).toHaveLength(0);
    await readCompletion(await rawRequest(`${gateway.url}/v1/chat/completions`, { headers: jsonHeaders(), body: chunksOf(bodyOfSize(4096), 1000) }));
    await readCompletion(await postChat(gateway, bodyOfSize(4096).toString('utf8')));
    expect(upstream.requests).toHaveLength(2);
  });
});

describe('unusable bodies', () => {
  it('invalid JSON is a 400 invalid_json', async () => {
    const { gateway, upstream } = await start();
    for (const text of ['{"model": "moltbot", "messages": [', 'not json', '{model: "moltbot"}', "{'a': 1}"]) {
      const error = await readError(await postChat(gateway, text), 400);
      expect(error.code).toBe('invalid_json');
      expect(error.param).toBeNull();
      expect(error.type).toBe('invalid_request_error');
    }
    expect(upstream.requests).toHaveLength(0);
  });

  it.each(['[]', '42', 'null', 'true', '"hello"', JSON.stringify([VALID])])('JSON that is not an object (%s) is a 400', async (text) => {
    const { gateway, upstream } = await start();
    const error = await readError(await postChat(gateway, text), 400);
    expect(error.type).toBe('invalid_request_error');
    expect(error.param).toBeNull();
    expect(upstream.requests).toHaveLength(0);
  });

  it('a JSON string that happens to contain a request object is a 400, not a request', async () => {
    const { gateway, upstream } = await start();
    const error = await readError(await postChat(gateway, JSON.stringify(JSON.stringify(VALID))), 400);
    expect(error.type).toBe('invalid_request_error');
    expect(upstream.requests).toHaveLength(0);
  });

  it('an empty body is a 400', async () => {
    const { gateway } = await start();
    const error = await readError(await rawRequest(`${gateway.url}/v1/chat/completions`, { headers: jsonHeaders(), body: Buffer.alloc(0) }), 400);
    expect(error.type).toBe('invalid_request_error');
  });
});

describe('schema violations name the param', () => {
  const cases: [string, unknown, string][] = [
    ['missing messages', { model: 'moltbot:beta' }, 'messages'],
    ['missing model', { messages: [{ role: 'user', content: 'hi' }] }, 'model'],
    ['empty messages', { model: 'moltbot:beta', messages: [] }, 'messages'],
    ['messages not an array', { model: 'moltbot:beta', messages: 'hi' }, 'messages'],
    ['empty model', { model: '', messages: [{ role: 'user', content: 'hi' }] }, 'model'],
    ['model not a string', { model: 7, messages: [{ role: 'user', content: 'hi' }] }, 'model'],
    ['unknown role', { model: 'moltbot:beta', messages: [{ role: 'wizard', content: 'hi' }] }, 'messages[0].role'],
    ['missing content', { model: 'moltbot:beta', messages: [{ role: 'user', content: 'a' }, { role: 'user' }] }, 'messages[1].content'],
    ['tool without tool_call_id', { model: 'moltbot:beta', messages: [{ role: 'tool', content: 'r' }] }, 'messages[0].tool_call_id'],
    ['stream not a boolean', { model: 'moltbot:beta', stream: 'yes', messages: [{ role: 'user', content: 'hi' }] }, 'stream'],
  ];

  it.each(cases)('%s', async (_name, body, param) => {
    const { gateway, upstream } = await start();
    const error = await readError(await postChat(gateway, body), 400);
    expect(error.type).toBe('invalid_request_error');
    expect(error.param).toBe(param);
    expect(error.message).toContain(param);
    expect(upstream.requests).toHaveLength(0);
  });

  it('extra OpenAI fields are accepted and ignored', async () => {
    const { gateway, upstream } = await start();
    await readCompletion(await postChat(gateway, { ...VALID, temperature: 0.2, max_tokens: 10, n: 1, metadata: { a: 'b' } }));
    expect(upstream.requests).toHaveLength(1);
  });
});
