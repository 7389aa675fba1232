/**
 * Upstream errors reach clients without secrets, internals or damage. The upstream's API
 * key is taken out of what it says, also URL-encoded and in base64 (alone, or inside a
 * Basic credential), but only when it is long enough to be a secret: the placeholders
 * local servers take (`x`, `ollama`, `EMPTY`) are left alone, so "upstream exploded"
 * never becomes "upstream e***ploded". The upstream's address never reaches an API
 * client (the log keeps it); messages are cut without splitting a character, control
 * characters dropped, HTML pages read as text. Both adapters.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfigFile } from '../../src/config/types.js';
import { postChat, startGateway, TEST_TOKEN, type TestGateway } from '../helpers/gateway.js';
import { startScriptedUpstream, type ScriptedUpstream } from '../helpers/hostile-upstream.js';
import { readError } from '../helpers/read.js';

const LONG_KEY = 'sk/test+key=with&chars-9f8e7d6c';
const ANTHROPIC_KEY = 'sk-ant-Zq8/Xw+Vv7=Uu6Tt';

let openai: ScriptedUpstream;
let anthropic: ScriptedUpstream;
let gateway: TestGateway;

const b64 = (text: string): string => Buffer.from(text).toString('base64');

/**
 * What the upstream says, from the turn's last user message: `{key}` becomes the key it
 * was sent, `{address}` its own address.
 */
function message(template: string, key: string, address: string): string {
  return template.replaceAll('{key}', key).replaceAll('{address}', address);
}

beforeAll(async () => {
  openai = await startScriptedUpstream(({ req, res, body }) => {
    const key = (req.headers.authorization ?? '').replace(/^Bearer /u, '');
    const template = (body.messages as { content: string }[]).at(-1)?.content ?? '';
    const text = message(template, key, `http://127.0.0.1:${openai.port}/v1/chat/completions`);
    if (template.startsWith('<')) {
      res.writeHead(502, { 'content-type': 'text/html' });
      res.end(text);
      return;
    }
    res.writeHead(500, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { message: text, type: 'server_error', param: null, code: null } }));
  });
  anthropic = await startScriptedUpstream(({ req, res, body }) => {
    const key = (req.headers.authorization ?? '').replace(/^Bearer /u, '');
    const content = (body.messages as { content: string | { text: string }[] }[]).at(-1)?.content ?? '';
    const template = typeof content === 'string' ? content : (content[0]?.text ?? '');
    res.writeHead(500, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ type: 'error', error: { type: 'api_error', message: message(template, key, `http://127.0.0.1:${anthropic.port}/v1/messages`) } }));
  });
  const openaiProvider = (apiKey: string) => ({ api: 'openai-completions' as const, baseUrl: openai.baseUrl, apiKey, maxRetries: 0 });
  const file: ConfigFile = {
    gateway: { auth: { mode: 'token', token: TEST_TOKEN }, http: { endpoints: { chatCompletions: { enabled: true } } } },
    models: {
      providers: {
        x: openaiProvider('x'),
        ollama: openaiProvider('ollama'),
        empty: openaiProvider('EMPTY'),
        keyed: openaiProvider(LONG_KEY),
        claude: { api: 'anthropic-messages', baseUrl: `http://127.0.0.1:${anthropic.port}`, apiKey: ANTHROPIC_KEY, maxRetries: 0 },
        claudex: { api: 'anthropic-messages', baseUrl: `http://127.0.0.1:${anthropic.port}`, apiKey: 'x', maxRetries: 0 },
      },
    },
    agents: { list: ['x', 'ollama', 'empty', 'keyed', 'claude', 'claudex'].map((id) => ({ id, model: `${id}/m` })) },
  };
  gateway = await startGateway(file);
});
afterAll(async () => {
  await gateway.close();
  await Promise.all([openai.close(), anthropic.close()]);
});

async function errorFor(agent: string, template: string): Promise<{ message: string; raw: string }> {
  const res = await postChat(gateway, { model: `moltbot:${agent}`, messages: [{ role: 'user', content: template }] });
  const raw = await res.clone().text();
  const error = await readError(res, 502);
  expect(error.type).toBe('upstream_error');
  return { message: error.message, raw };
}

describe('keys too short to be secrets are left alone', () => {
  it.each(['x', 'ollama', 'empty', 'claudex'])("provider key of agent '%s': 'upstream exploded' arrives whole", async (agent) => {
    const { message: text } = await errorFor(agent, 'upstream exploded: EMPTY model ollama, key {key}');
    const key = agent === 'empty' ? 'EMPTY' : agent === 'claudex' ? 'x' : agent;
    expect(text).toContain(`upstream exploded: EMPTY model ollama, key ${key}`);
    expect(text).not.toContain('***');
  });
});

describe('a long key is taken out in every form it is echoed in', () => {
  const forms = (key: string): Record<string, string> => ({
    plain: key,
    'URL-encoded': encodeURIComponent(key),
    base64: b64(key),
    base64url: b64(key).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/u, ''),
    'base64 inside a Basic credential': b64(`user:${key}`),
    'base64 at another offset': b64(`ab:${key}`),
  });

  it.each([
    ['OpenAI-compatible', 'keyed', LONG_KEY],
    ['Anthropic', 'claude', ANTHROPIC_KEY],
  ])('%s', async (_name, agent, key) => {
    const echoed = Object.entries(forms(key));
    const template = echoed.map(([name, form]) => `${name}=${form.replaceAll(key, '{key}')}`).join(' ');
    const { message: text, raw } = await errorFor(agent, `upstream exploded; ${template}`);
    expect(text).toContain('upstream exploded; plain=***');
    for (const [name, form] of echoed) {
      expect(raw, name).not.toContain(form);
      // Long enough runs of the key's own base64 do not survive either.
      expect(raw, name).not.toContain(form.slice(4, 16));
    }
    expect(gateway.logs.join('')).not.toContain(key);
  });
});

describe("the upstream's address reaches the log, never the client", () => {
  it.each([
    ['OpenAI-compatible', 'keyed', () => openai.port],
    ['Anthropic', 'claude', () => anthropic.port],
  ])('%s: an error naming where it lives', async (_name, agent, port) => {
    const logged = gateway.logs.length;
    const { message: text, raw } = await errorFor(agent, 'proxy could not reach {address} (127.0.0.1)');
    expect(raw).not.toContain(`127.0.0.1:${port()}`);
    expect(raw).not.toContain('127.0.0.1');
    expect(text).toContain('proxy could not reach <upstream>');
    expect(gateway.logs.slice(logged).join('')).toContain(`127.0.0.1:${port()}`);
  });
});

describe('no damage', () => {
  it('a long message of emoji is cut at 500 characters without splitting one', async () => {
    // One ASCII character first, so a cut at 500 falls inside a pair.
    const { message: text } = await errorFor('x', `a${'😀'.repeat(400)}`);
    const said = text.slice(text.indexOf(': ') + 2);
    expect(said.length).toBeLessThanOrEqual(500);
    expect(said.length).toBeGreaterThan(490);
    expect(Buffer.from(said).toString('utf8')).toBe(said);
    expect(said).toBe(`a${'😀'.repeat((said.length - 1) / 2)}`);
  });

  it('control characters (a terminal colour, NUL, BEL) are dropped; tabs and newlines stay', async () => {
    const { message: text } = await errorFor('x', '\u001b[31mred\u001b[0m\u0000\u0007 alert\tand\nmore');
    expect(text).toContain('[31mred[0m alert\tand\nmore');
    expect([...text].filter((char) => char < ' ' && char !== '\t' && char !== '\n')).toEqual([]);
  });

  it("an HTML error page is read as text, and a flood of '<' is handled in linear time", async () => {
    const page = await errorFor('x', '<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>');
    expect(page.message).toContain('answered 502: 502 Bad Gateway 502 Bad Gateway nginx');
    const started = performance.now();
    const flood = await errorFor('x', `<${'<'.repeat(60_000)}`);
    expect(flood.message).toContain('answered 502');
    expect(performance.now() - started).toBeLessThan(5000);
  });
});
