/**
 * Hostile input at the HTTP edge. Everything the spec does not allow is a 400 in
 * OpenAI's shape naming the field in `param`; bodies that cannot be JSON requests are
 * 400/415; oversized bodies are refused at the limit without being buffered (413);
 * oversized headers are a 431 and slow clients a 408, each with a JSON body, while the
 * gateway keeps serving everyone else. Authentication comes before any of the body's
 * problems: without the secret the answer is 401 whatever the body.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openapiDocument } from '../../generated/openapi-document.js';
import type { ConfigFile } from '../../src/config/types.js';
import { TEST_TOKEN, baseConfig, postChat, startGateway, type TestGateway } from '../helpers/gateway.js';
import { parseRawResponse, sendFrom, stallRequest, streamUpload } from '../helpers/hostile-http.js';
import { readCompletion, readError, readStream } from '../helpers/read.js';

const MAX_STRING = 1000;
const USER = [{ role: 'user', content: 'hi' }];
const VALID = { model: 'moltbot', messages: USER };
const AUTH = { authorization: `Bearer ${TEST_TOKEN}` };
const JSON_AUTH = { ...AUTH, 'content-type': 'application/json' };

type HttpSettings = NonNullable<NonNullable<ConfigFile['gateway']>['http']>;

/** Base config (agent main on echo) with `http` merged in and loopback exempt from the auth limiter. */
function configWith(http: Omit<HttpSettings, 'endpoints'> = {}): ConfigFile {
  const file = baseConfig();
  file.gateway = {
    ...file.gateway,
    auth: { ...file.gateway?.auth, rateLimit: { exemptLoopback: true } },
    http: { ...file.gateway?.http, ...http },
  };
  return file;
}

/** The gateway most tests share: maxStringLength 1000, everything else default. */
let shared: TestGateway;
beforeAll(async () => {
  shared = await startGateway(configWith({ maxStringLength: MAX_STRING }));
});
afterAll(async () => {
  await shared.close();
});

/** Gateways a single test starts with its own settings. */
const own: TestGateway[] = [];
async function startOwn(http: Omit<HttpSettings, 'endpoints'>): Promise<TestGateway> {
  const gateway = await startGateway(configWith(http));
  own.push(gateway);
  return gateway;
}
afterEach(async () => {
  await Promise.all(own.splice(0).map((gateway) => gateway.close()));
});

const chatUrl = (gateway: TestGateway): string => `${gateway.url}/v1/chat/completions`;

/** A 400 in OpenAI's shape (validated against both schemas) naming `param`. */
async function expectBadParam(res: Response, param: string | null, code?: string): Promise<{ message: string; code: string | null }> {
  const error = await readError(res, 400);
  expect(error.type).toBe('invalid_request_error');
  expect(error.param).toBe(param);
  if (code !== undefined) expect(error.code).toBe(code);
  if (param !== null) expect(error.message).toContain(param);
  return { message: error.message, code: error.code };
}

/** The gateway still answers its health probe and a normal chat. */
async function expectStillServing(gateway: TestGateway): Promise<void> {
  const health = await fetch(`${gateway.url}/healthz`);
  expect(health.status).toBe(200);
  expect(await health.json()).toEqual({ status: 'ok' });
  const completion = await readCompletion(await postChat(gateway, { model: 'moltbot', messages: [{ role: 'user', content: 'still here' }] }));
  expect(completion.choices[0]?.message.content).toBe('still here');
}

describe('every top-level field with a wrong type is a 400 naming it', () => {
  /** Per field of CreateChatCompletionRequest: values of a type the spec does not allow. */
  const wrongTypes: Record<string, unknown[]> = {
    model: [7, null, true, ['moltbot'], { id: 'moltbot' }],
    messages: ['hi', null, 3, { role: 'user', content: 'hi' }],
    stream: ['true', 1, [], {}],
    user: [3, false, [], {}],
    stream_options: ['include_usage', true, 1, []],
    n: ['1', 1.5, true, []],
    temperature: ['0.5', true, [], {}],
    top_p: ['1', false, [1], {}],
    max_tokens: ['10', 1.5, true, {}],
    max_completion_tokens: ['10', 2.5, false, []],
    stop: [5, true, {}],
    seed: ['42', 4.2, true, {}],
    presence_penalty: ['0', true, [], {}],
    frequency_penalty: ['0', false, [0], {}],
    response_format: ['json_object', 1, true, []],
    tools: ['tool', {}, 1, true],
    tool_choice: [1, true, [], 'sometimes'],
    parallel_tool_calls: ['true', 0, [], {}],
  };

  it('the table covers every field of CreateChatCompletionRequest in the spec', () => {
    const properties = Object.keys(openapiDocument.components.schemas.CreateChatCompletionRequest.properties);
    expect(Object.keys(wrongTypes).sort()).toEqual([...properties].sort());
  });

  const cases = Object.entries(wrongTypes).flatMap(([field, values]) => values.map((value) => [field, JSON.stringify(value), value] as const));
  it.each(cases)('%s = %s', async (field, _shown, value) => {
    const body = { ...VALID, [field]: value };
    const { code } = await expectBadParam(await postChat(shared, body), field);
    expect(code).toBe('invalid_value');
  });

  it('a wrong type deeper in an object names the nested field', async () => {
    await expectBadParam(await postChat(shared, { ...VALID, stream_options: { include_usage: 'yes' } }), 'stream_options.include_usage', 'invalid_value');
    await expectBadParam(await postChat(shared, { ...VALID, response_format: { type: 'xml' } }), 'response_format.type', 'invalid_value');
    await expectBadParam(
      await postChat(shared, { ...VALID, tools: [{ type: 'function', function: { name: 'has space' } }] }),
      'tools[0].function.name',
      'invalid_value',
    );
    await expectBadParam(await postChat(shared, { ...VALID, stop: [1] }), 'stop[0]', 'invalid_value');
    await expectBadParam(await postChat(shared, { ...VALID, stop: ['ok', 2] }), 'stop[1]', 'invalid_value');
  });
});

describe('values out of the spec ranges are a 400 naming the field', () => {
  const outOfRange: [string, unknown][] = [
    ['temperature', 2.5],
    ['temperature', -0.1],
    ['top_p', 1.5],
    ['top_p', -0.1],
    ['presence_penalty', 2.5],
    ['presence_penalty', -2.5],
    ['frequency_penalty', 2.5],
    ['frequency_penalty', -2.5],
    ['n', 2],
    ['n', 0],
    ['max_tokens', 0],
    ['max_tokens', -1],
    ['max_completion_tokens', 0],
    ['stop', ['a', 'b', 'c', 'd', 'e']],
    ['stop', []],
    ['model', ''],
    ['model', 'm'.repeat(257)],
    ['user', 'u'.repeat(257)],
  ];
  it.each(outOfRange.map(([field, value]) => [field, JSON.stringify(value).slice(0, 40), value] as const))('%s = %s', async (field, _shown, value) => {
    await expectBadParam(await postChat(shared, { ...VALID, [field]: value }), field, 'invalid_value');
  });

  const atTheEdge: [string, unknown][] = [
    ['temperature', 2],
    ['temperature', 0],
    ['top_p', 1],
    ['top_p', 0],
    ['presence_penalty', 2],
    ['presence_penalty', -2],
    ['frequency_penalty', -2],
    ['frequency_penalty', 2],
    ['n', 1],
    ['max_tokens', 1],
    ['max_completion_tokens', 1],
    ['stop', ['a', 'b', 'c', 'd']],
    ['model', 'm'.repeat(256)],
    ['user', 'u'.repeat(256)],
  ];
  it.each(atTheEdge.map(([field, value]) => [field, JSON.stringify(value).slice(0, 40), value] as const))('the edge %s = %s is accepted', async (field, _shown, value) => {
    await readCompletion(await postChat(shared, { ...VALID, [field]: value }));
  });
});

describe('messages the spec does not allow', () => {
  it('empty messages → param messages', async () => {
    await expectBadParam(await postChat(shared, { model: 'moltbot', messages: [] }), 'messages', 'invalid_value');
  });

  it('missing model or messages → missing_required_parameter', async () => {
    await expectBadParam(await postChat(shared, { messages: USER }), 'model', 'missing_required_parameter');
    await expectBadParam(await postChat(shared, { model: 'moltbot' }), 'messages', 'missing_required_parameter');
  });

  it('an unknown role → messages[i].role', async () => {
    await expectBadParam(await postChat(shared, { model: 'moltbot', messages: [{ role: 'wizard', content: 'x' }] }), 'messages[0].role', 'invalid_value');
    await expectBadParam(
      await postChat(shared, { model: 'moltbot', messages: [{ role: 'user', content: 'a' }, { role: 'function', content: 'x', name: 'f' }] }),
      'messages[1].role',
      'invalid_value',
    );
    await expectBadParam(await postChat(shared, { model: 'moltbot', messages: [{ content: 'no role' }] }), 'messages[0].role');
  });

  it('an unknown content part type in a user message → messages[0].content[0].type, listing the part types', async () => {
    const { message } = await expectBadParam(
      await postChat(shared, { model: 'moltbot', messages: [{ role: 'user', content: [{ type: 'audio', input_audio: { data: '', format: 'wav' } }] }] }),
      'messages[0].content[0].type',
      'invalid_value',
    );
    // The allowed values are the part types, not the message roles.
    expect(message).toContain('image_url');
    expect(message).not.toContain('assistant');
  });

  it('a non-text part in a system message → messages[0].content[0].type', async () => {
    await expectBadParam(
      await postChat(shared, { model: 'moltbot', messages: [{ role: 'system', content: [{ type: 'image_url', image_url: { url: 'data:image/png;base64,AA==' } }] }, ...USER] }),
      'messages[0].content[0].type',
      'invalid_value',
    );
  });

  it('a tool message without tool_call_id → messages[i].tool_call_id', async () => {
    await expectBadParam(
      await postChat(shared, { model: 'moltbot', messages: [...USER, { role: 'assistant', content: 'ok' }, { role: 'tool', content: 'result' }] }),
      'messages[2].tool_call_id',
      'missing_required_parameter',
    );
    await expectBadParam(
      await postChat(shared, { model: 'moltbot', messages: [{ role: 'tool', content: 'result', tool_call_id: '' }] }),
      'messages[0].tool_call_id',
      'invalid_value',
    );
  });
});

describe('absurd nesting is a 400 too_deep and costs the server nothing', () => {
  const nestedArrays = (depth: number): string => `${'['.repeat(depth)}${']'.repeat(depth)}`;
  const nestedObjects = (depth: number): string => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
  const inField = (field: string, json: string): string => `{"model":"moltbot","messages":[{"role":"user","content":"hi"}],"${field}":${json}}`;

  it('depth 100 in a field names the field', async () => {
    for (const json of [nestedArrays(100), nestedObjects(100)]) {
      const error = await readError(await postChat(shared, inField('metadata', json)), 400);
      expect(error.code).toBe('too_deep');
      expect(error.param).toMatch(/^metadata[.[]/u);
    }
  });

  it('depth 100 inside a message names the message field', async () => {
    const body = `{"model":"moltbot","messages":[{"role":"user","content":${nestedArrays(100)}}]}`;
    const error = await readError(await postChat(shared, body), 400);
    expect(error.code).toBe('too_deep');
    expect(error.param).toMatch(/^messages\[0\]\.content\[0\]/u);
  });

  it('depth 100,000 (a ~200 KB body) is a 400 and the server keeps serving', async () => {
    const bodies = [nestedArrays(100_000), inField('metadata', nestedArrays(100_000)), inField('metadata', nestedObjects(100_000))];
    expect(Buffer.byteLength(bodies[0] as string)).toBe(200_000);
    for (const body of bodies) {
      const error = await readError(await postChat(shared, body), 400);
      expect(error.code).toBe('too_deep');
      expect(error.type).toBe('invalid_request_error');
    }
    await expectStillServing(shared);
  });
});

describe('strings over gateway.http.maxStringLength', () => {
  it('a string one over the limit is a 400 string_too_long naming the field; at the limit it is fine', async () => {
    const error = await readError(await postChat(shared, { model: 'moltbot', messages: [{ role: 'user', content: 'x'.repeat(MAX_STRING + 1) }] }), 400);
    expect(error.code).toBe('string_too_long');
    expect(error.param).toBe('messages[0].content');
    expect(error.message).toContain(String(MAX_STRING));
    await readCompletion(await postChat(shared, { model: 'moltbot', messages: [{ role: 'user', content: 'x'.repeat(MAX_STRING) }] }));
  });

  it('a long string deep in a tool schema, or in a field the spec ignores, names its path', async () => {
    const tools = [{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: { q: { description: 'd'.repeat(MAX_STRING + 1) } } } } }];
    const deep = await readError(await postChat(shared, { ...VALID, tools }), 400);
    expect(deep.code).toBe('string_too_long');
    expect(deep.param).toBe('tools[0].function.parameters.properties.q.description');
    const ignored = await readError(await postChat(shared, { ...VALID, metadata: { note: 'n'.repeat(5000) } }), 400);
    expect(ignored.code).toBe('string_too_long');
    expect(ignored.param).toBe('metadata.note');
  });

  it('an over-long key is a 400 string_too_long', async () => {
    const error = await readError(await postChat(shared, { ...VALID, metadata: { ['k'.repeat(MAX_STRING + 1)]: 1 } }), 400);
    expect(error.code).toBe('string_too_long');
  });
});

describe('bodies that are not a JSON object', () => {
  const prefix = Buffer.from('{"model":"moltbot","messages":[{"role":"user","content":"');
  const suffix = Buffer.from('"}]}');
  const invalidUtf8: [string, number[]][] = [
    ['a lone 0xFF byte', [0xff]],
    ['an overlong "/" (C0 AF)', [0xc0, 0xaf]],
    ['an encoded surrogate (ED A0 80)', [0xed, 0xa0, 0x80]],
    ['a truncated sequence (E2 82)', [0xe2, 0x82]],
    ['a code point past U+10FFFF (F4 90 80 80)', [0xf4, 0x90, 0x80, 0x80]],
    ['Latin-1 "é" (E9)', [0xe9]],
  ];
  it.each(invalidUtf8)('invalid UTF-8 (%s) is a 400 invalid_utf8', async (_name, bytes) => {
    const body = Buffer.concat([prefix, Buffer.from(bytes), suffix]);
    await expectBadParam(await sendFrom(chatUrl(shared), { headers: JSON_AUTH, body }), null, 'invalid_utf8');
  });

  it('the same body in valid UTF-8 is accepted', async () => {
    const completion = await readCompletion(await sendFrom(chatUrl(shared), { headers: JSON_AUTH, body: Buffer.concat([prefix, Buffer.from('é/\u{10FFFF}'), suffix]) }));
    expect(completion.choices[0]?.message.content).toBe('é/\u{10FFFF}');
  });

  it.each(['[]', '1', 'null', '"x"', 'true', '[{"model":"moltbot","messages":[]}]', JSON.stringify(JSON.stringify(VALID))])('%s is a 400', async (text) => {
    await expectBadParam(await postChat(shared, text), null);
  });

  it('invalid JSON is a 400 invalid_json', async () => {
    for (const text of ['{', '{"model":"moltbot",}', "{'model':'moltbot'}", 'NaN', '{"model":"moltbot"} trailing']) {
      await expectBadParam(await postChat(shared, text), null, 'invalid_json');
    }
  });
});

describe('Content-Type', () => {
  it.each(['text/plain', 'application/x-www-form-urlencoded', 'text/plain;charset=UTF-8', 'multipart/form-data; boundary=x', 'application/jsonp', 'text/json'])(
    '%s is a 415',
    async (type) => {
      const error = await readError(await sendFrom(chatUrl(shared), { headers: { ...AUTH, 'content-type': type }, body: JSON.stringify(VALID) }), 415);
      expect(error.code).toBe('unsupported_media_type');
      expect(error.type).toBe('invalid_request_error');
      expect(error.param).toBeNull();
    },
  );

  it("curl's default (-d without -H) is a 415", async () => {
    const res = await sendFrom(chatUrl(shared), { headers: { ...AUTH, 'content-type': 'application/x-www-form-urlencoded' }, body: JSON.stringify(VALID) });
    expect((await readError(res, 415)).message).toContain('application/json');
  });

  it.each(['application/json; charset=utf-8', 'application/vnd.api+json', 'Application/JSON', 'application/json;charset=UTF-8'])('%s is accepted', async (type) => {
    await readCompletion(await sendFrom(chatUrl(shared), { headers: { ...AUTH, 'content-type': type }, body: JSON.stringify(VALID) }));
  });

  it('no Content-Type with a JSON body is accepted', async () => {
    const res = await sendFrom(chatUrl(shared), { headers: AUTH, body: JSON.stringify({ ...VALID, stream: true }) });
    expect((await readStream(res)).chunks.length).toBeGreaterThan(0);
  });
});

describe('authentication comes first', () => {
  const badBodies: [string, Record<string, string>, Buffer | string][] = [
    ['text/plain', { 'content-type': 'text/plain' }, JSON.stringify(VALID)],
    ['invalid JSON', { 'content-type': 'application/json' }, '{'],
    ['invalid UTF-8', { 'content-type': 'application/json' }, Buffer.from([0x7b, 0xff, 0x7d])],
    ['too deep', { 'content-type': 'application/json' }, '['.repeat(1000) + ']'.repeat(1000)],
    ['too long a string', { 'content-type': 'application/json' }, JSON.stringify({ ...VALID, user: 'x'.repeat(MAX_STRING + 1) })],
    ['not an object', { 'content-type': 'application/json' }, '[]'],
    ['against the schema', { 'content-type': 'application/json' }, JSON.stringify({ model: 1, messages: [] })],
    ['empty', { 'content-type': 'application/json' }, ''],
  ];
  const credentials: [string, Record<string, string>][] = [
    ['no Authorization', {}],
    ['a wrong token', { authorization: 'Bearer wrong-token' }],
  ];
  const cases = badBodies.flatMap(([name, headers, body]) => credentials.map(([who, auth]) => [name, who, { ...headers, ...auth }, body] as const));
  it.each(cases)('%s with %s is a 401', async (_name, _who, headers, body) => {
    const res = await sendFrom(chatUrl(shared), { headers, body });
    expect(res.headers.get('www-authenticate')).toBe('Bearer');
    const error = await readError(res, 401);
    expect(error.code).toBe('invalid_api_key');
  });
});

describe('a body over maxBodyBytes is refused at the limit, not buffered', () => {
  const HUNDRED_MB = 100 * 1024 * 1024;

  async function upload(gateway: TestGateway, declareLength: boolean): Promise<{ written: number; grewBy: number }> {
    const rssBefore = process.memoryUsage().rss;
    const upload = await streamUpload(chatUrl(gateway), { headers: JSON_AUTH, total: HUNDRED_MB, chunk: Buffer.alloc(64 * 1024, 0x20), declareLength });
    const grewBy = process.memoryUsage().rss - rssBefore;
    expect(upload.stoppedBy).toBe('response');
    const res = upload.response as Response;
    expect(res.headers.get('connection')).toBe('close');
    const error = await readError(res, 413);
    expect(error.code).toBe('request_too_large');
    expect(error.message).toContain(String(gateway.config.gateway.http.maxBodyBytes));
    return { written: upload.bytesWritten, grewBy };
  }

  // Loopback sockets hold a few MB the server never read (measured ~3 MB here), so the
  // "at most twice the limit" bound is checked with a limit well above that.
  it.each([false, true])('100 MB streamed against a 16 MiB limit (declared length: %s): 413 after at most 2× the limit', async (declareLength) => {
    const limit = 16 * 1024 * 1024;
    const gateway = await startOwn({ maxBodyBytes: limit });
    const { written, grewBy } = await upload(gateway, declareLength);
    expect(written).toBeLessThanOrEqual(2 * limit);
    expect(grewBy).toBeLessThan(50 * 1024 * 1024);
    await expectStillServing(gateway);
  });

  it.each([false, true])('100 MB streamed against the default 1 MiB (declared length: %s): 413 within the first few MB', async (declareLength) => {
    const { written, grewBy } = await upload(shared, declareLength);
    expect(shared.config.gateway.http.maxBodyBytes).toBe(1024 * 1024);
    expect(written).toBeLessThanOrEqual(8 * 1024 * 1024);
    expect(grewBy).toBeLessThan(50 * 1024 * 1024);
    await expectStillServing(shared);
  });
});

describe('headers over 16 KiB', () => {
  it('one large header is a 431 with an OpenAI JSON body, on any route', async () => {
    for (const [path, method] of [['/v1/chat/completions', 'POST'], ['/healthz', 'GET']] as const) {
      const res = await sendFrom(`${shared.url}${path}`, { method, headers: { ...JSON_AUTH, 'x-filler': 'a'.repeat(17 * 1024) }, ...(method === 'POST' ? { body: JSON.stringify(VALID) } : {}) });
      // Answered before any handler, through the same renderer: with a request id like every response.
      expect(res.headers.get('x-request-id')).toMatch(/^req_[0-9a-f]{32}$/u);
      const error = await readError(res, 431);
      expect(error.code).toBe('headers_too_large');
      expect(error.type).toBe('invalid_request_error');
    }
    await expectStillServing(shared);
  });

  it('many headers adding up past 16 KiB are a 431 too; a request just under is served', async () => {
    const many = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`x-filler-${i}`, 'b'.repeat(450)]));
    expect((await readError(await sendFrom(chatUrl(shared), { headers: { ...JSON_AUTH, ...many }, body: JSON.stringify(VALID) }), 431)).code).toBe('headers_too_large');
    await readCompletion(await sendFrom(chatUrl(shared), { headers: { ...JSON_AUTH, 'x-filler': 'c'.repeat(15 * 1024) }, body: JSON.stringify(VALID) }));
  });
});

describe('slow clients', () => {
  /** The 408 the server sent before closing a stalled connection. */
  async function expect408(raw: string): Promise<void> {
    const res = parseRawResponse(raw);
    expect(res.headers.get('connection')).toBe('close');
    expect(res.headers.get('x-request-id')).toMatch(/^req_[0-9a-f]{32}$/u);
    const error = await readError(res, 408);
    expect(error.code).toBe('request_timeout');
    expect(error.type).toBe('invalid_request_error');
  }

  it('slowloris: a request line and one header, then nothing → 408 and closed, others served meanwhile', async () => {
    const gateway = await startOwn({ headersTimeoutSeconds: 1 });
    const stalled = await stallRequest(gateway.url, 'POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    const health = await fetch(`${gateway.url}/healthz`);
    expect(health.status).toBe(200);
    expect(stalled.closed).toBe(false);
    const { raw, ms } = await stalled.ended;
    expect(ms).toBeGreaterThanOrEqual(900);
    await expect408(raw);
    await expectStillServing(gateway);
  });

  it('slowloris trickling a header line every 100 ms is still cut off at the headers timeout', async () => {
    const gateway = await startOwn({ headersTimeoutSeconds: 1 });
    const stalled = await stallRequest(gateway.url, 'POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    let n = 0;
    const trickle = setInterval(() => {
      if (!stalled.closed) stalled.socket.write(`x-trickle-${(n += 1)}: y\r\n`);
    }, 100);
    try {
      const { raw } = await stalled.ended;
      await expect408(raw);
      expect(n).toBeGreaterThan(3);
    } finally {
      clearInterval(trickle);
    }
    await expectStillServing(gateway);
  });

  async function slowBody(gateway: TestGateway): Promise<void> {
    const head = `POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TEST_TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n`;
    const stalled = await stallRequest(gateway.url, `${head}{"model":"`);
    expect((await fetch(`${gateway.url}/healthz`)).status).toBe(200);
    expect(stalled.closed).toBe(false);
    const { raw } = await stalled.ended;
    await expect408(raw);
    await expectStillServing(gateway);
  }

  it('a slow body (Content-Length 100, 10 bytes sent) with requestTimeoutSeconds 1 → 408 and closed', async () => {
    // Only the request timeout is configured; the headers timeout keeps its default (10 s).
    await slowBody(await startOwn({ requestTimeoutSeconds: 1 }));
  });

  it('a slow body with headersTimeoutSeconds and requestTimeoutSeconds both 1 → 408 and closed', async () => {
    await slowBody(await startOwn({ headersTimeoutSeconds: 1, requestTimeoutSeconds: 1 }));
  });

  it('timeouts with two decimals (2.01 s, 16.1 s) are accepted by the config and the server starts', async () => {
    // 2.01 * 1000 and 16.1 * 1000 are not whole numbers in floating point.
    expect(Number.isInteger(2.01 * 1000) || Number.isInteger(16.1 * 1000)).toBe(false);
    const gateway = await startOwn({ headersTimeoutSeconds: 2.01, requestTimeoutSeconds: 16.1 });
    await expectStillServing(gateway);
  });
});
