/**
 * No work before authentication: a request is routed, rate-limited and authenticated on
 * its headers alone; only then is its body read and parsed. A refused request's body is
 * read and thrown away without being kept (a lingering close, as nginx does), so the
 * client still sees the status instead of a reset, and `Expect: 100-continue` gets its
 * `100 Continue` only once those checks have passed.
 */
import { spawn } from 'node:child_process';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfigFile } from '../../src/config/types.js';
import { cleanEnv, startCliGateway, writeConfig, type RunningGateway } from '../helpers/cli.js';
import { TEST_TOKEN, baseConfig, startGateway, type TestGateway } from '../helpers/gateway.js';
import { sendFrom } from '../helpers/hostile-http.js';
import { PROCESS_TOKEN } from '../helpers/process-gateway.js';
import { cpuMs } from '../helpers/proc-stat.js';
import { readCompletion, readError } from '../helpers/read.js';

const MiB = 1024 * 1024;

/** A 1 MiB JSON request whose `x` holds ~60,000 small nested arrays: costly to parse and walk. */
function nestedArrayBody(): Buffer {
  const head = '{"model":"moltbot","messages":[{"role":"user","content":"hi"}],"x":[';
  const item = '[[[[[[[[[[[[[[[[0]]]]]]]]]]]]]]]]';
  const count = Math.floor((MiB - head.length - 2) / (item.length + 1));
  return Buffer.from(`${head}${Array.from({ length: count }, () => item).join(',')}]}`);
}

/** Runs `tasks` with at most `concurrency` at once. */
async function pool<T>(tasks: (() => Promise<T>)[], concurrency: number): Promise<T[]> {
  const results: T[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < tasks.length) {
      const i = next;
      next += 1;
      results[i] = await (tasks[i] as () => Promise<T>)();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return results;
}

describe('no work before authentication (a real gateway process)', () => {
  let gateway: RunningGateway;
  beforeAll(async () => {
    const config = writeConfig(`{ gateway: { http: { endpoints: { chatCompletions: { enabled: true } } } } }`);
    const env = cleanEnv({ CLAWDBOT_GATEWAY_TOKEN: PROCESS_TOKEN, MOLTBOT_STATE_DIR: mkdtempSync(join(tmpdir(), 'moltbot-state-')) });
    gateway = await startCliGateway(['--port', '0', '--config', config], env);
  });
  afterAll(async () => {
    gateway.child.kill('SIGTERM');
    await gateway.done;
  });

  it('20 refused 1 MiB nested-array requests (wrong token, unknown route, blocked address) cost < 1 s of CPU in all; /healthz stays fast', { timeout: 120_000 }, async () => {
    const pid = gateway.child.pid as number;
    const body = nestedArrayBody();
    const chatUrl = `${gateway.url}/v1/chat/completions`;
    const json = { 'content-type': 'application/json' };
    // Warm up, then get 127.0.0.3 blocked with small failures (20 by default).
    expect((await sendFrom(chatUrl, { headers: { ...json, authorization: `Bearer ${PROCESS_TOKEN}` }, body: '{"model":"moltbot","messages":[{"role":"user","content":"hi"}]}' })).status).toBe(200);
    for (let i = 0; i < 20; i += 1) {
      expect((await sendFrom(chatUrl, { headers: { ...json, authorization: 'Bearer wrong' }, body: '{}', localAddress: '127.0.0.3' })).status).toBe(401);
    }

    let measuring = true;
    const healthMs: number[] = [];
    const probe = (async () => {
      while (measuring) {
        const started = performance.now();
        expect((await fetch(`${gateway.url}/healthz`)).status).toBe(200);
        healthMs.push(performance.now() - started);
      }
    })();
    const before = cpuMs(pid);
    const kinds = [
      ...Array.from({ length: 8 }, () => ({ url: chatUrl, headers: { ...json, authorization: 'Bearer wrong' }, localAddress: '127.0.0.1', status: 401 })),
      ...Array.from({ length: 6 }, () => ({ url: `${gateway.url}/v1/nothing`, headers: json, localAddress: '127.0.0.1', status: 404 })),
      ...Array.from({ length: 6 }, () => ({ url: chatUrl, headers: { ...json, authorization: `Bearer ${PROCESS_TOKEN}` }, localAddress: '127.0.0.3', status: 429 })),
    ];
    const statuses = await pool(
      kinds.map((kind) => async () => (await sendFrom(kind.url, { headers: kind.headers, body, localAddress: kind.localAddress })).status),
      8,
    );
    const spent = cpuMs(pid) - before;
    measuring = false;
    await probe;
    expect(statuses).toEqual(kinds.map((kind) => kind.status));
    const worstHealth = Math.max(...healthMs);
    console.log(`[before-auth] 20 refused 1 MiB requests: ${spent.toFixed(0)} ms of gateway CPU (${(spent / 20).toFixed(1)} ms each); /healthz worst ${worstHealth.toFixed(1)} ms over ${healthMs.length} probes`);
    expect(spent).toBeLessThan(1000);
    expect(worstHealth).toBeLessThan(1000);
  });
});

/** A gateway with loopback exempt from the failed-auth limit, so 401s stay 401s. */
function uploadConfig(): ConfigFile {
  const file = baseConfig();
  file.gateway = { ...file.gateway, auth: { mode: 'token', token: TEST_TOKEN, rateLimit: { exemptLoopback: true } } };
  return file;
}

describe('refused uploads of 8 MiB reach every client as a status, not a reset', () => {
  let gateway: TestGateway;
  let bodyFile: string;
  const content = 'x'.repeat(8 * MiB);
  const body = JSON.stringify({ model: 'moltbot', messages: [{ role: 'user', content }] });
  beforeAll(async () => {
    gateway = await startGateway(uploadConfig());
    bodyFile = join(mkdtempSync(join(tmpdir(), 'moltbot-upload-')), 'body.json');
    writeFileSync(bodyFile, body);
  });
  afterAll(() => gateway.close());

  const cases = [
    { name: 'unauthenticated → 401', authorization: 'Bearer wrong', status: 401 },
    { name: 'over maxBodyBytes → 413', authorization: `Bearer ${TEST_TOKEN}`, status: 413 },
  ];

  it.each(cases)('fetch(), 20 at once, $name', async ({ authorization, status }) => {
    const outcomes = await Promise.all(
      Array.from({ length: 20 }, () =>
        fetch(`${gateway.url}/v1/chat/completions`, { method: 'POST', headers: { authorization, 'content-type': 'application/json' }, body }).then(
          async (res) => `${res.status} ${res.headers.get('connection')} ${(JSON.parse(await res.text()) as { error: { code: string } }).error.code}`,
          (err: Error) => `${err.message}: ${String((err.cause as { code?: string } | undefined)?.code ?? err.cause)}`,
        ),
      ),
    );
    const seen = outcomes.filter((o) => o.startsWith(String(status))).length;
    console.log(`[before-auth] fetch ${status}: ${seen} of 20 saw the status; others: ${JSON.stringify([...new Set(outcomes.filter((o) => !o.startsWith(String(status))))])}`);
    expect(outcomes).toEqual(Array.from({ length: 20 }, () => `${status} close ${status === 401 ? 'invalid_api_key' : 'request_too_large'}`));
  });

  it.each(cases)('the openai SDK (default maxRetries 2), 20 at once, $name, each sent once', async ({ authorization, status }) => {
    let attempts = 0;
    const client = new OpenAI({
      apiKey: authorization.slice('Bearer '.length),
      baseURL: `${gateway.url}/v1`,
      fetch: (url, init) => {
        attempts += 1;
        return fetch(url, init);
      },
    });
    const outcomes = await Promise.all(
      Array.from({ length: 20 }, () =>
        client.chat.completions.create({ model: 'moltbot', messages: [{ role: 'user', content }] }).then(
          () => 'answered 200',
          (err: unknown) => (err instanceof OpenAI.APIError && err.status !== undefined ? `${err.status}` : `${(err as Error).constructor.name}: ${(err as Error).message}`),
        ),
      ),
    );
    console.log(`[before-auth] openai SDK ${status}: ${outcomes.filter((o) => o === String(status)).length} of 20 saw the status, in ${attempts} attempts`);
    expect(outcomes).toEqual(Array.from({ length: 20 }, () => String(status)));
    expect(attempts).toBe(20);
  });

  for (const expect100 of [true, false]) {
    it.each(cases)(`curl --data-binary @8MiB (${expect100 ? "curl's own Expect: 100-continue" : 'no Expect'}), 20 at once, $name`, async ({ authorization, status }) => {
      const runs = await Promise.all(
        Array.from(
          { length: 20 },
          () =>
            new Promise<string>((resolve) => {
              const args = ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '-H', `authorization: ${authorization}`, '-H', 'content-type: application/json'];
              if (!expect100) args.push('-H', 'Expect:');
              const curl = spawn('curl', [...args, '--data-binary', `@${bodyFile}`, `${gateway.url}/v1/chat/completions`]);
              let out = '';
              curl.stdout.on('data', (c: Buffer) => (out += c.toString()));
              curl.stderr.on('data', (c: Buffer) => (out += c.toString()));
              curl.on('close', (code) => resolve(`${code} ${out.trim()}`));
            }),
        ),
      );
      console.log(`[before-auth] curl ${status} (expect ${expect100}): ${runs.filter((r) => r === `0 ${status}`).length} of 20 saw the status; others: ${JSON.stringify([...new Set(runs.filter((r) => r !== `0 ${status}`))])}`);
      expect(runs).toEqual(Array.from({ length: 20 }, () => `0 ${status}`));
    });
  }

  it('the gateway keeps serving afterwards', async () => {
    const res = await sendFrom(`${gateway.url}/v1/chat/completions`, {
      headers: { authorization: `Bearer ${TEST_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'moltbot', messages: [{ role: 'user', content: 'still here' }] }),
    });
    expect((await readCompletion(res)).choices[0]?.message.content).toBe('still here');
  });
});

/**
 * Sends `head` (a request's head ending in a blank line) on a raw socket and returns what
 * the server sends first; `then(raw)` may send more and wait for more.
 */
async function rawExchange(url: string, head: string, then?: (socket: import('node:net').Socket, first: string) => Promise<string>): Promise<{ first: string; rest: string }> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  socket.setEncoding('utf8');
  socket.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const first = await new Promise<string>((resolve, reject) => {
    socket.once('data', resolve);
    socket.once('close', () => reject(new Error('closed without an answer')));
    socket.write(head);
  });
  const rest = then ? await then(socket, first) : '';
  socket.destroy();
  return { first, rest };
}

/** Whether `raw` holds a whole response: its head and `Content-Length` bytes of body. */
function complete(raw: string): boolean {
  const split = raw.indexOf('\r\n\r\n');
  const length = /\r\ncontent-length: *(\d+)/iu.exec(raw)?.[1];
  return split >= 0 && length !== undefined && Buffer.byteLength(raw.slice(split + 4)) >= Number(length);
}

/** Reads from `socket` until `done(text)` says the answer is complete (or the socket closes). */
function readUntil(socket: import('node:net').Socket, done: (text: string) => boolean): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    const onData = (chunk: string): void => {
      text += chunk;
      if (done(text)) {
        socket.off('data', onData);
        resolve(text);
      }
    };
    socket.on('data', onData);
    socket.once('close', () => resolve(text));
  });
}

describe('Expect: 100-continue', () => {
  let gateway: TestGateway;
  beforeAll(async () => {
    gateway = await startGateway(uploadConfig());
  });
  afterAll(() => gateway.close());

  const head = (path: string, headers: Record<string, string | number>): string =>
    `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${Object.entries(headers)
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join('')}Expect: 100-continue\r\n\r\n`;

  const refusals: { name: string; path: string; headers: Record<string, string | number>; status: number }[] = [
    { name: 'a wrong token', path: '/v1/chat/completions', headers: { authorization: 'Bearer wrong', 'content-length': 1000 }, status: 401 },
    { name: 'no token', path: '/v1/chat/completions', headers: { 'content-length': 1000 }, status: 401 },
    { name: 'an unknown route', path: '/v1/nothing', headers: { authorization: `Bearer ${TEST_TOKEN}`, 'content-length': 1000 }, status: 404 },
    { name: 'a wrong method', path: '/v1/models', headers: { authorization: `Bearer ${TEST_TOKEN}`, 'content-length': 1000 }, status: 405 },
    { name: 'a declared length over maxBodyBytes', path: '/v1/chat/completions', headers: { authorization: `Bearer ${TEST_TOKEN}`, 'content-length': 2 * MiB }, status: 413 },
    { name: 'a Content-Type that is not JSON', path: '/v1/chat/completions', headers: { authorization: `Bearer ${TEST_TOKEN}`, 'content-length': 1000, 'content-type': 'text/plain' }, status: 415 },
  ];
  it.each(refusals)('$name: the final status comes first, whole, with Connection: close, and no 100 Continue', async ({ path, headers, status }) => {
    const { first, rest } = await rawExchange(gateway.url, head(path, { 'content-type': 'application/json', ...headers }), async (socket, text) =>
      complete(text) ? text : text + (await readUntil(socket, (more) => complete(text + more))),
    );
    expect(first).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `, 'u'));
    expect(complete(rest)).toBe(true);
    expect(rest).not.toContain('100 Continue');
    expect(rest.toLowerCase()).toContain('connection: close');
  });

  it('a request that passes the checks gets 100 Continue, then its answer once the body is sent', async () => {
    const body = JSON.stringify({ model: 'moltbot', messages: [{ role: 'user', content: 'continued' }] });
    const { first, rest } = await rawExchange(
      gateway.url,
      head('/v1/chat/completions', { authorization: `Bearer ${TEST_TOKEN}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }),
      (socket) => {
        const answer = readUntil(socket, (text) => /"finish_reason":"stop"/u.test(text));
        socket.write(body);
        return answer;
      },
    );
    expect(first).toBe('HTTP/1.1 100 Continue\r\n\r\n');
    expect(rest).toMatch(/^HTTP\/1\.1 200 /u);
    expect(rest).toContain('"content":"continued"');
  });
});

describe('a refused body is not read into memory', () => {
  let gateway: TestGateway;
  beforeAll(async () => {
    gateway = await startGateway(uploadConfig());
  });
  afterAll(() => gateway.close());

  it('a body too deep to be a request, sent without a token, is a 401 whatever it holds', async () => {
    const res = await sendFrom(`${gateway.url}/v1/chat/completions`, { headers: { 'content-type': 'application/json' }, body: nestedArrayBody() });
    expect(res.headers.get('connection')).toBe('close');
    expect((await readError(res, 401)).code).toBe('invalid_api_key');
  });
});
