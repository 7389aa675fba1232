/**
 * HTTP details real clients and proxies rely on: compressed request bodies (gzip,
 * deflate, br; the limit on the decoded bytes, so a gzip bomb is a quick 413), other
 * content codings refused with 415 and `Accept-Encoding`; `HEAD` on every `GET` route;
 * two `Authorization` or two `Host` headers refused; numbers out of a double's range
 * refused by name; an HTTP/1.0 stream that does not claim keep-alive; a model id with an
 * unencoded slash; and the absolute-form request line.
 */
import { connect, type Socket } from 'node:net';
import { brotliCompressSync, createGzip, deflateSync, gzipSync } from 'node:zlib';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfigFile } from '../../src/config/types.js';
import { TEST_TOKEN, baseConfig, startGateway, type TestGateway } from '../helpers/gateway.js';
import { sendFrom } from '../helpers/hostile-http.js';
import { modelSchemaProblems } from '../helpers/model-schemas.js';
import { readCompletion, readError, readStream, streamedText } from '../helpers/read.js';

const MiB = 1024 * 1024;
const AUTH = { authorization: `Bearer ${TEST_TOKEN}` };
const VALID = JSON.stringify({ model: 'moltbot', messages: [{ role: 'user', content: 'squeezed' }] });

let gateway: TestGateway;
let chatUrl: string;
beforeAll(async () => {
  const file: ConfigFile = baseConfig();
  file.gateway = { ...file.gateway, auth: { mode: 'token', token: TEST_TOKEN, rateLimit: { exemptLoopback: true } } };
  file.agents = { list: [{ id: 'main' }, { id: 'beta' }] };
  gateway = await startGateway(file);
  chatUrl = `${gateway.url}/v1/chat/completions`;
});
afterAll(() => gateway.close());

/** Gzip of `size` zero bytes, made in a stream (the input is never in memory whole). */
async function gzipOfZeros(size: number): Promise<Buffer> {
  const gzip = createGzip({ level: 9 });
  const out: Buffer[] = [];
  gzip.on('data', (chunk: Buffer) => out.push(chunk));
  const done = new Promise((resolve) => gzip.on('end', resolve));
  const zeros = Buffer.alloc(MiB);
  for (let written = 0; written < size; written += zeros.length) {
    if (!gzip.write(zeros)) await new Promise((resolve) => gzip.once('drain', resolve));
  }
  gzip.end();
  await done;
  return Buffer.concat(out);
}

/**
 * Sends raw request bytes on a socket; resolves with everything the server sent once it
 * closes, or once `done(raw)` holds (then the client closes), at the latest after 5 s.
 */
function rawRequest(text: string, done: (raw: string) => boolean = () => false): Promise<string> {
  const { hostname, port } = new URL(gateway.url);
  return new Promise((resolve, reject) => {
    const socket: Socket = connect(Number(port), hostname);
    let raw = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      raw += chunk;
      if (done(raw)) socket.destroy();
    });
    socket.on('error', reject);
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(raw);
    }, 5000);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(raw);
    });
    socket.write(text);
  });
}

const head = (raw: string): string => raw.slice(0, raw.indexOf('\r\n\r\n')).toLowerCase();
const bodyOf = (raw: string): string => raw.slice(raw.indexOf('\r\n\r\n') + 4);

describe('compressed request bodies', () => {
  it.each([
    ['gzip', gzipSync],
    ['x-gzip', gzipSync],
    ['deflate', deflateSync],
    ['br', brotliCompressSync],
    ['GZIP', gzipSync],
  ] as const)('Content-Encoding: %s is decoded', async (coding, compress) => {
    const res = await sendFrom(chatUrl, { headers: { ...AUTH, 'content-type': 'application/json', 'content-encoding': coding }, body: compress(Buffer.from(VALID)) });
    expect((await readCompletion(res)).choices[0]?.message.content).toBe('squeezed');
  });

  it('a 1 MB gzip bomb (1 GiB of zeros) is a 413 at the decoded limit, quickly and with flat memory', { timeout: 60_000 }, async () => {
    const bomb = await gzipOfZeros(1024 * MiB);
    const rssBefore = process.memoryUsage().rss;
    const started = performance.now();
    const res = await sendFrom(chatUrl, { headers: { ...AUTH, 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: bomb });
    const ms = performance.now() - started;
    const grew = process.memoryUsage().rss - rssBefore;
    const error = await readError(res, 413);
    expect(error.code).toBe('request_too_large');
    console.log(`[http-details] gzip bomb of ${(bomb.length / MiB).toFixed(2)} MiB (1 GiB decoded): 413 in ${ms.toFixed(0)} ms, RSS +${(grew / MiB).toFixed(1)} MiB`);
    expect(ms).toBeLessThan(5000);
    expect(grew).toBeLessThan(50 * MiB);
  });

  it('the limit is on the decoded bytes: 2 MiB of JSON gzipped to a few KB is a 413', async () => {
    const big = JSON.stringify({ model: 'moltbot', messages: [{ role: 'user', content: 'y'.repeat(2 * MiB) }] });
    const res = await sendFrom(chatUrl, { headers: { ...AUTH, 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: gzipSync(big) });
    expect((await readError(res, 413)).code).toBe('request_too_large');
  });

  it.each([
    ['not gzip at all', 'gzip', Buffer.from(VALID)],
    ['a plain body labelled br', 'br', Buffer.from(VALID)],
    ['gzip cut short', 'gzip', gzipSync(VALID).subarray(0, 20)],
  ])('%s is a 400 invalid_body_encoding', async (_name, coding, body) => {
    const res = await sendFrom(chatUrl, { headers: { ...AUTH, 'content-type': 'application/json', 'content-encoding': coding }, body });
    const error = await readError(res, 400);
    expect(error.code).toBe('invalid_body_encoding');
    expect(error.message).toContain(coding);
  });

  it.each(['compress', 'zstd', 'gzip, br', 'sdch'])('Content-Encoding: %s is a 415 with Accept-Encoding', async (coding) => {
    const res = await sendFrom(chatUrl, { headers: { ...AUTH, 'content-type': 'application/json', 'content-encoding': coding }, body: VALID });
    expect(res.headers.get('accept-encoding')).toBe('gzip, deflate, br');
    const error = await readError(res, 415);
    expect(error.code).toBe('unsupported_content_encoding');
  });

  it('identity is a plain body', async () => {
    const res = await sendFrom(chatUrl, { headers: { ...AUTH, 'content-type': 'application/json', 'content-encoding': 'identity' }, body: VALID });
    expect((await readCompletion(res)).choices[0]?.message.content).toBe('squeezed');
  });
});

describe('HEAD on every GET route', () => {
  it.each([
    ['/healthz', {}],
    ['/openapi.yaml', {}],
    ['/docs', {}],
    ['/v1/models', AUTH],
    ['/v1/models/moltbot:main', AUTH],
  ] as const)('HEAD %s: the GET status and headers, no body', async (path, headers) => {
    const get = await sendFrom(`${gateway.url}${path}`, { method: 'GET', headers });
    const getBody = Buffer.from(await get.arrayBuffer());
    const raw = await rawRequest(`HEAD ${path} HTTP/1.1\r\nHost: x\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}Connection: close\r\n\r\n`);
    expect(raw).toMatch(/^HTTP\/1\.1 200 /u);
    expect(bodyOf(raw)).toBe('');
    expect(head(raw)).toContain(`content-type: ${get.headers.get('content-type')}`.toLowerCase());
    expect(head(raw)).toContain(`content-length: ${getBody.length}`);
  });

  it('HEAD on an authenticated route without the token is a 401, without a body', async () => {
    const raw = await rawRequest('HEAD /v1/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(raw).toMatch(/^HTTP\/1\.1 401 /u);
    expect(bodyOf(raw)).toBe('');
  });

  it('405 lists HEAD beside GET, and not beside POST', async () => {
    const post = await sendFrom(`${gateway.url}/v1/models`, { method: 'POST', headers: { ...AUTH, 'content-type': 'application/json' }, body: '{}' });
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    await readError(post, 405);
    const get = await sendFrom(chatUrl, { method: 'GET', headers: AUTH });
    expect(get.headers.get('allow')).toBe('POST');
    await readError(get, 405);
    const headChat = await rawRequest(`HEAD /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TEST_TOKEN}\r\nConnection: close\r\n\r\n`);
    expect(headChat).toMatch(/^HTTP\/1\.1 405 /u);
  });
});

describe('headers that may appear only once', () => {
  const chatRequest = (extra: string): string =>
    `POST /v1/chat/completions HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(VALID)}\r\nConnection: close\r\n${extra}\r\n${VALID}`;

  it.each([
    ['two Authorization headers, both right', `Host: x\r\nAuthorization: Bearer ${TEST_TOKEN}\r\nAuthorization: Bearer ${TEST_TOKEN}\r\n`, 'authorization'],
    ['two Authorization headers, one wrong', `Host: x\r\nAuthorization: Bearer wrong\r\nAuthorization: Bearer ${TEST_TOKEN}\r\n`, 'authorization'],
    ['two Host headers', `Host: a.example\r\nHost: b.example\r\nAuthorization: Bearer ${TEST_TOKEN}\r\n`, 'host'],
    ['two Host headers differing in case', `host: a.example\r\nHOST: a.example\r\nAuthorization: Bearer ${TEST_TOKEN}\r\n`, 'host'],
  ])('%s → 400 duplicate_header', async (_name, headers, param) => {
    const raw = await rawRequest(chatRequest(headers));
    expect(raw).toMatch(/^HTTP\/1\.1 400 /u);
    const error = (JSON.parse(bodyOf(raw)) as { error: { code: string; param: string } }).error;
    expect(error).toMatchObject({ code: 'duplicate_header', param });
  });

  it('one of each is served', async () => {
    const raw = await rawRequest(chatRequest(`Host: x\r\nAuthorization: Bearer ${TEST_TOKEN}\r\n`));
    expect(raw).toMatch(/^HTTP\/1\.1 200 /u);
  });
});

describe('numbers out of range', () => {
  it.each([
    ['max_tokens', '{"model":"moltbot","messages":[{"role":"user","content":"hi"}],"max_tokens":1e309}'],
    ['temperature', '{"model":"moltbot","messages":[{"role":"user","content":"hi"}],"temperature":-1e400}'],
    ['tools[0].function.parameters.properties.n.maximum', '{"model":"moltbot","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"n":{"type":"number","maximum":1e999}}}}}]}'],
    ['metadata.x', '{"model":"moltbot","messages":[{"role":"user","content":"hi"}],"metadata":{"x":2e308}}'],
  ])('%s: a number past a double is a 400 naming it', async (param, body) => {
    const error = await readError(await sendFrom(chatUrl, { headers: { ...AUTH, 'content-type': 'application/json' }, body }), 400);
    expect(error).toMatchObject({ param, code: 'invalid_value' });
    expect(error.message).toContain(param);
  });

  it('the largest double still passes where the spec allows it', async () => {
    const body = '{"model":"moltbot","messages":[{"role":"user","content":"hi"}],"metadata":{"x":1.7976931348623157e308}}';
    await readCompletion(await sendFrom(chatUrl, { headers: { ...AUTH, 'content-type': 'application/json' }, body }));
  });
});

describe('an HTTP/1.0 client', () => {
  it('gets its stream without a keep-alive claim, ended by closing the connection', async () => {
    const body = JSON.stringify({ model: 'moltbot', stream: true, messages: [{ role: 'user', content: 'old client' }] });
    for (const connection of ['', 'Connection: keep-alive\r\n']) {
      const raw = await rawRequest(
        `POST /v1/chat/completions HTTP/1.0\r\nHost: x\r\n${connection}Authorization: Bearer ${TEST_TOKEN}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
      expect(raw).toMatch(/^HTTP\/1\.1 200 /u);
      expect(head(raw)).not.toContain('keep-alive');
      expect(head(raw)).toContain('connection: close');
      expect(head(raw)).not.toContain('transfer-encoding');
      const stream = await readStream(new Response(bodyOf(raw), { status: 200, headers: { 'content-type': 'text/event-stream' } }));
      expect(streamedText(stream)).toBe('old client');
    }
  });

  it('HTTP/1.1 streams still keep the connection alive', async () => {
    const body = JSON.stringify({ model: 'moltbot', stream: true, messages: [{ role: 'user', content: 'new client' }] });
    const raw = await rawRequest(
      `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TEST_TOKEN}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      (raw) => raw.includes('data: [DONE]'),
    );
    expect(head(raw)).toContain('connection: keep-alive');
  });
});

describe('model ids with a slash', () => {
  const model = async (path: string): Promise<{ id: string }> => {
    const res = await sendFrom(`${gateway.url}${path}`, { method: 'GET', headers: AUTH });
    const text = await res.text();
    expect(res.status, text).toBe(200);
    const body = JSON.parse(text) as { id: string };
    expect(modelSchemaProblems('model', body)).toEqual([]);
    return body;
  };

  it('GET /v1/models/moltbot/beta answers like /v1/models/moltbot%2Fbeta', async () => {
    const plain = await model('/v1/models/moltbot/beta');
    expect(plain).toEqual(await model('/v1/models/moltbot%2Fbeta'));
    expect(plain.id).toBe('moltbot/beta');
    expect((await model('/v1/models/agent:beta')).id).toBe('agent:beta');
  });

  it('an unknown agent with a slash is a 404 model_not_found; a deeper path too', async () => {
    for (const path of ['/v1/models/moltbot/nobody', '/v1/models/moltbot/beta/extra']) {
      const error = await readError(await sendFrom(`${gateway.url}${path}`, { method: 'GET', headers: AUTH }), 404);
      expect(error.code).toBe('model_not_found');
    }
  });

  it('the openai SDK retrieves moltbot/beta', async () => {
    const client = new OpenAI({ apiKey: TEST_TOKEN, baseURL: `${gateway.url}/v1`, maxRetries: 0 });
    expect((await client.models.retrieve('moltbot/beta')).id).toBe('moltbot/beta');
  });
});

describe('the absolute-form request line (RFC 9112 §3.2.2)', () => {
  it('POST http://host/v1/chat/completions is routed like /v1/chat/completions', async () => {
    const raw = await rawRequest(
      `POST http://127.0.0.1:1/v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TEST_TOKEN}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(VALID)}\r\nConnection: close\r\n\r\n${VALID}`,
    );
    expect(raw).toMatch(/^HTTP\/1\.1 200 /u);
    expect(bodyOf(raw)).toContain('"content":"squeezed"');
  });

  it.each([
    ['GET HTTP://Example.com/healthz', 200],
    ['GET http://example.com/v1/models?limit=1', 200],
    ['GET http://example.com', 404],
    ['GET http://example.com/nothing', 404],
  ])('%s → %d', async (line, status) => {
    const raw = await rawRequest(`${line} HTTP/1.1\r\nHost: example.com\r\nAuthorization: Bearer ${TEST_TOKEN}\r\nConnection: close\r\n\r\n`);
    expect(raw).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `, 'u'));
  });
});
