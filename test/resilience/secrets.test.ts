/**
 * Secrets never leave the gateway: the gateway token, the password and the upstream API
 * key (all given through `${ENV}` references in the config file) appear in no response,
 * no log line, no `moltbot` output and no crash output — whether clients send wrong
 * tokens or the right one, the upstream echoes its key back in errors, the config is
 * wrong, `moltbot agent`/`sessions` run, the gateway is stopped with SIGTERM, or the store
 * cannot be opened at all.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cleanEnv, runCli, startCliGateway, writeConfig, type Finished, type RunningGateway } from '../helpers/cli.js';
import { postChat, startGateway } from '../helpers/gateway.js';
import { contentEvent, finishEvent, sseEvent, startScriptedUpstream, startSse, type Exchange, type ScriptedUpstream } from '../helpers/hostile-upstream.js';
import { within } from '../helpers/process-gateway.js';
import { readCompletion, readError, readStream, streamedText } from '../helpers/read.js';

const TOKEN = 'gw-token-Qz8v2LmX4kPa7RtY';
const PASSWORD = 'gw-password-Hn3Jd9Wc5sEo1UfB';
const UPSTREAM_KEY = 'sk-upstream-Vb6Tg1Ny8Mq2Zx4K';
const SECRETS = { token: TOKEN, password: PASSWORD, 'upstream key': UPSTREAM_KEY } as const;

/** Everything any process or response said, labelled, to be searched for secrets. */
class Transcript {
  readonly entries: { label: string; text: string }[] = [];

  add(label: string, text: string): void {
    this.entries.push({ label, text });
  }

  process(label: string, result: Finished): void {
    this.add(`${label} stdout`, result.stdout);
    this.add(`${label} stderr`, result.stderr);
  }

  /** Records a response's status line, headers and body; returns the body text. */
  async response(label: string, res: Response): Promise<string> {
    const text = await res.clone().text();
    this.add(label, `${res.status}\n${[...res.headers].map(([k, v]) => `${k}: ${v}`).join('\n')}\n\n${text}`);
    return text;
  }

  /** Which secrets appear where; empty when none does. */
  leaks(): string[] {
    const found: string[] = [];
    for (const { label, text } of this.entries) {
      for (const [name, secret] of Object.entries(SECRETS)) if (text.includes(secret)) found.push(`${name} in ${label}`);
    }
    return found;
  }
}

/** The upstream's answer depends on the turn's last user message; it echoes the bearer key it was sent. */
function upstreamScript({ req, res, body }: Exchange): void {
  const messages = body.messages as { role: string; content: string }[];
  const last = messages.at(-1)?.content ?? '';
  const key = (req.headers.authorization ?? '').replace(/^Bearer /u, '');
  if (last === 'deny') {
    res.writeHead(401, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { message: `Incorrect API key provided: ${key}.`, type: 'invalid_request_error', param: null, code: 'invalid_api_key' } }));
  } else if (last === 'html') {
    res.writeHead(500, { 'content-type': 'text/html' });
    res.end(`<html><body>upstream crashed handling key ${key}</body></html>`);
  } else if (last === 'event') {
    startSse(res, contentEvent(null), contentEvent('partial'), sseEvent({ error: { message: `rate limited for ${key}`, type: 'server_error' } }));
    res.end();
  } else if (last === 'malformed') {
    startSse(res, `data: {"broken": "${key}\n\n`);
    res.end();
  } else {
    startSse(res, contentEvent(null), contentEvent('hi'), contentEvent(' there'), finishEvent());
    res.end(sseEvent('[DONE]'));
  }
}

let upstream: ScriptedUpstream;
beforeAll(async () => {
  upstream = await startScriptedUpstream(upstreamScript);
});
afterAll(async () => {
  await upstream.close();
});

const children: RunningGateway[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.child.kill('SIGKILL');
});

/** The config: every secret through `${ENV}`; agent `main` on the upstream, `plain` on echo. */
function secretConfig(baseUrl: string): string {
  return writeConfig(`{
  gateway: {
    auth: { mode: 'token', token: '\${GW_TOKEN}', password: '\${GW_PASSWORD}' },
    http: { endpoints: { chatCompletions: { enabled: true } } },
    shutdownGraceSeconds: 5,
  },
  session: { reset: { mode: 'never' } },
  models: { providers: { up: { api: 'openai-completions', baseUrl: '${baseUrl}', apiKey: '\${UPSTREAM_API_KEY}', maxRetries: 0 } } },
  agents: { list: [{ id: 'main', model: 'up/m' }, { id: 'plain', model: 'echo/echo' }] },
}`);
}

function secretEnv(stateDir = mkdtempSync(join(tmpdir(), 'moltbot-state-'))): Record<string, string> {
  return cleanEnv({ GW_TOKEN: TOKEN, GW_PASSWORD: PASSWORD, UPSTREAM_API_KEY: UPSTREAM_KEY, MOLTBOT_STATE_DIR: stateDir });
}

function ask(url: string, secret: string | undefined, body: Record<string, unknown>, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(secret === undefined ? {} : { authorization: secret }), ...headers },
    body: JSON.stringify(body),
  });
}

const turn = (content: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  model: 'moltbot',
  user: 'secret-keeper',
  messages: [{ role: 'user', content }],
  ...extra,
});

/** Wrong credentials of every kind: each a 401 that says nothing of what was expected. */
async function wrongCredentials(url: string, transcript: Transcript, label: string, right: string, other: string): Promise<void> {
  const attempts: [string, string | undefined][] = [
    ['none', undefined],
    ['empty bearer', 'Bearer '],
    ['wrong bearer', 'Bearer not-the-secret'],
    ['secret minus its last character', `Bearer ${right.slice(0, -1)}`],
    ['secret plus a character', `Bearer ${right}x`],
    ['the other secret', `Bearer ${other}`],
    ['secret as Basic', `Basic ${Buffer.from(`user:${right}`).toString('base64')}`],
    ['secret without scheme', right],
  ];
  for (const [name, authorization] of attempts) {
    const res = await ask(url, authorization, turn('hello'));
    await transcript.response(`${label}: ${name}`, res);
    const error = await readError(res, 401);
    expect(error.code).toBe('invalid_api_key');
  }
}

/** Every line a gateway process wrote to stderr is one of its JSON log lines. */
function expectStructured(stderr: string): void {
  const lines = stderr.split('\n').filter((line) => line !== '');
  expect(lines.length).toBeGreaterThan(0);
  for (const line of lines) expect(() => JSON.parse(line) as unknown, line).not.toThrow();
}

describe('secrets in a gateway process and the moltbot commands', () => {
  it('appear in no response, log, command output or shutdown output', async () => {
    const transcript = new Transcript();
    const stateDir = mkdtempSync(join(tmpdir(), 'moltbot-state-'));
    const env = secretEnv(stateDir);
    const config = secretConfig(upstream.baseUrl);

    // Token mode.
    const gateway = await startCliGateway(['--port', '0', '--config', config], env);
    children.push(gateway);
    await wrongCredentials(gateway.url, transcript, 'token mode', TOKEN, PASSWORD);

    const bearer = `Bearer ${TOKEN}`;
    const ok = await ask(gateway.url, bearer, turn('hello'));
    await transcript.response('right token, JSON', ok);
    expect((await readCompletion(ok)).choices[0]?.message.content).toBe('hi there');
    const streamed = await ask(gateway.url, bearer, turn('hello', { stream: true }));
    await transcript.response('right token, stream', streamed);
    expect(streamedText(await readStream(streamed))).toBe('hi there');
    // A token in the query string is not logged with the path.
    const query = await fetch(`${gateway.url}/v1/chat/completions?api_key=${TOKEN}`, {
      method: 'POST',
      headers: { authorization: bearer, 'content-type': 'application/json' },
      body: JSON.stringify(turn('hello')),
    });
    await transcript.response('token in the query string', query);
    await readCompletion(query);

    // The upstream refuses and echoes the key it was sent, as JSON, as HTML, as a stream error event.
    for (const content of ['deny', 'html']) {
      for (const stream of [false, true]) {
        const res = await ask(gateway.url, bearer, turn(content, stream ? { stream: true } : {}));
        await transcript.response(`upstream ${content}, stream ${stream}`, res);
        const error = await readError(res, 502);
        expect(error.message).toContain("'up'");
      }
    }
    const event = await ask(gateway.url, bearer, turn('event', { stream: true }));
    await transcript.response('upstream error event mid-stream', event);
    const eventStream = await readStream(event);
    expect(eventStream.error).toMatchObject({ type: 'upstream_error' });
    expect(eventStream.error?.message).toContain('rate limited for ***');

    // moltbot agent beside the running gateway: failing upstream, then a good turn.
    const agentFail = await runCli(['agent', '--message', 'deny', '--config', config], env);
    transcript.process('moltbot agent (upstream 401)', agentFail);
    expect(agentFail.code).toBe(1);
    expect(agentFail.stderr).toContain("'up'");
    const agentHtml = await runCli(['agent', '--message', 'html', '--json', '--session-key', 'agent:main:cli', '--config', config], env);
    transcript.process('moltbot agent --json (upstream 500 html)', agentHtml);
    expect(agentHtml.code).toBe(1);
    const agentOk = await runCli(['agent', '--message', 'hello', '--json', '--session-key', 'agent:main:cli', '--config', config], env);
    transcript.process('moltbot agent --json', agentOk);
    expect(agentOk.code).toBe(0);
    expect(JSON.parse(agentOk.stdout)).toMatchObject({ reply: 'hi there', sessionKey: 'agent:main:cli' });

    // moltbot sessions list/show, over transcripts holding the upstream's redacted errors.
    const sessionCommands = [
      ['sessions', 'list'],
      ['sessions', 'list', '--json'],
      ['sessions', 'show', 'agent:main:openai-user:secret-keeper'],
      ['sessions', 'show', 'agent:main:openai-user:secret-keeper', '--json'],
      ['sessions', 'show', 'agent:main:cli', '--json'],
    ];
    const sessionResults = await Promise.all(sessionCommands.map((args) => runCli([...args, '--config', config], env)));
    for (const [i, result] of sessionResults.entries()) {
      transcript.process(`moltbot ${sessionCommands[i]?.join(' ')}`, result);
      expect(result, JSON.stringify(result)).toMatchObject({ code: 0, stderr: '' });
    }
    const shown = sessionResults[3] as Finished;
    const statuses = (JSON.parse(shown.stdout) as { turns: { status: string; error?: { message: string } }[] }[])[0]?.turns.map((t) => t.status);
    expect(statuses).toEqual(['ok', 'ok', 'ok', 'error', 'error', 'error', 'error', 'error']);

    // SIGTERM: drains, exits 0; everything it printed is captured.
    gateway.child.kill('SIGTERM');
    const exit = await within(gateway.done, 10_000, 'the gateway exiting');
    transcript.process('gateway (token mode)', exit);
    expect(exit.code).toBe(0);
    expect(exit.stderr).toMatch(/"message":"shutting down"/u);
    expect(exit.stderr).toMatch(/"code":"upstream_error"/u);
    expectStructured(exit.stderr);

    // Password mode, same config and secrets.
    const byPassword = await startCliGateway(['--port', '0', '--config', config, '--auth', 'password'], env);
    children.push(byPassword);
    await wrongCredentials(byPassword.url, transcript, 'password mode', PASSWORD, TOKEN);
    const plain = await ask(byPassword.url, `Bearer ${PASSWORD}`, { model: 'moltbot:plain', messages: [{ role: 'user', content: 'by password' }] });
    await transcript.response('right password', plain);
    expect((await readCompletion(plain)).choices[0]?.message.content).toBe('by password');
    byPassword.child.kill('SIGTERM');
    const passwordExit = await within(byPassword.done, 10_000, 'the password-mode gateway exiting');
    transcript.process('gateway (password mode)', passwordExit);
    expect(passwordExit.code).toBe(0);

    expect(transcript.entries.length).toBeGreaterThan(40);
    expect(transcript.leaks()).toEqual([]);
  });

  it('a malformed upstream stream carrying the key does not put the key on the gateway\'s stderr', async () => {
    const transcript = new Transcript();
    const env = secretEnv();
    const config = secretConfig(upstream.baseUrl);
    const gateway = await startCliGateway(['--port', '0', '--config', config], env);
    children.push(gateway);
    for (const stream of [false, true]) {
      const res = await ask(gateway.url, `Bearer ${TOKEN}`, turn('malformed', stream ? { stream: true } : {}));
      await transcript.response(`malformed SSE, stream ${stream}`, res);
      expect((await readError(res, 502)).type).toBe('upstream_error');
    }
    const agent = await runCli(['agent', '--message', 'malformed', '--config', config], env);
    transcript.process('moltbot agent (malformed SSE)', agent);
    expect(agent.code).toBe(1);
    gateway.child.kill('SIGTERM');
    const exit = await within(gateway.done, 10_000, 'the gateway exiting');
    transcript.process('gateway', exit);
    expect(exit.code).toBe(0);
    expect(transcript.leaks()).toEqual([]);
    expectStructured(exit.stderr);
  });
});

describe('config errors that involve a secret name the key, not the value', () => {
  const GATEWAY = [['gateway', '--port', '0']];
  const EVERY_COMMAND = [...GATEWAY, ['agent', '--message', 'x'], ['sessions', 'list']];
  const cases: { name: string; body: string; mentions: string[]; commands?: string[][] }[] = [
    { name: 'the token where a port belongs', body: `gateway: { port: '\${GW_TOKEN}' }`, mentions: ['gateway.port'], commands: EVERY_COMMAND },
    { name: 'the password as the auth mode', body: `gateway: { auth: { mode: '\${GW_PASSWORD}' } }`, mentions: ['gateway.auth.mode'] },
    { name: 'the token under a misspelt key', body: `gateway: { auth: { tokn: '\${GW_TOKEN}' } }`, mentions: ['gateway.auth.tokn', 'unknown key'] },
    {
      name: 'the key where a timeout belongs',
      body: `models: { providers: { up: { api: 'openai-completions', baseUrl: 'http://127.0.0.1:9/v1', apiKey: 'x', timeoutSeconds: '\${UPSTREAM_API_KEY}' } } }`,
      mentions: ['models.providers.up.timeoutSeconds'],
    },
    {
      name: 'the key as a base URL',
      body: `models: { providers: { up: { api: 'openai-completions', baseUrl: '\${UPSTREAM_API_KEY}' } } }`,
      mentions: ['models.providers.up.baseUrl'],
    },
    { name: 'the key as an agent model', body: `agents: { list: [{ id: 'main', model: '\${UPSTREAM_API_KEY}' }] }`, mentions: ['agents.list[0].model'] },
    {
      name: 'an unset variable next to set ones',
      body: `gateway: { auth: { token: '\${GW_TOKEN}' } }, models: { providers: { up: { api: 'openai-completions', baseUrl: 'http://127.0.0.1:9/v1', apiKey: '\${NOT_SET_ANYWHERE}' } } }`,
      mentions: ['models.providers.up.apiKey', 'NOT_SET_ANYWHERE'],
      commands: EVERY_COMMAND,
    },
  ];

  it.each(cases)('$name', async ({ body, mentions, commands = GATEWAY }) => {
    const config = writeConfig(`{ ${body} }`);
    const env = secretEnv();
    const transcript = new Transcript();
    const results = await Promise.all(commands.map((args) => runCli([...args, '--config', config], env)));
    for (const [i, result] of results.entries()) {
      transcript.process(`moltbot ${commands[i]?.[0]}`, result);
      expect(result.code, JSON.stringify(result)).toBe(2);
      expect(result.stdout).toBe('');
      for (const mention of mentions) expect(result.stderr).toContain(mention);
    }
    expect(transcript.leaks()).toEqual([]);
  });

  it('the key spliced into an agent model naming an unknown provider', async () => {
    const config = writeConfig(`{ agents: { list: [{ id: 'main', model: '\${UPSTREAM_API_KEY}/gpt-4o' }] } }`);
    const result = await runCli(['gateway', '--port', '0', '--config', config], secretEnv());
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('agents.list[0].model');
    const transcript = new Transcript();
    transcript.process('moltbot gateway', result);
    expect(transcript.leaks()).toEqual([]);
  });
});

describe('failures outside any request', () => {
  it('a directory where the sqlite file should be: every command fails without printing a secret', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'moltbot-state-'));
    mkdirSync(join(stateDir, 'sessions.sqlite'));
    const env = secretEnv(stateDir);
    const config = secretConfig(upstream.baseUrl);
    const transcript = new Transcript();
    const commands = [['gateway', '--port', '0'], ['agent', '--message', 'hello'], ['sessions', 'list'], ['sessions', 'show', 'agent:main:x']];
    const results = await Promise.all(commands.map((args) => runCli([...args, '--config', config], env)));
    for (const [i, result] of results.entries()) {
      transcript.process(`moltbot ${commands[i]?.join(' ')}`, result);
      // A start-up problem of the store: exit 2, naming the file and what is wrong with it.
      expect(result.code, JSON.stringify(result)).toBe(2);
      expect(result.stdout).not.toMatch(/listening/u);
      expect(result.stderr).toMatch(new RegExp(`^moltbot: session store: cannot open for writing ${join(stateDir, 'sessions.sqlite')}: it is a directory \\(EISDIR\\)`, 'u'));
    }
    expect(transcript.leaks()).toEqual([]);
  });

  it('a state dir that is a file: every command fails without printing a secret', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'moltbot-state-'));
    const stateFile = join(parent, 'not-a-dir');
    writeFileSync(stateFile, `token ${TOKEN}\n`);
    const env = secretEnv(stateFile);
    const config = secretConfig(upstream.baseUrl);
    const transcript = new Transcript();
    const commands = [['gateway', '--port', '0'], ['agent', '--message', 'hello'], ['sessions', 'list']];
    const results = await Promise.all(commands.map((args) => runCli([...args, '--config', config], env)));
    for (const [i, result] of results.entries()) {
      transcript.process(`moltbot ${commands[i]?.join(' ')}`, result);
      expect(result.code, JSON.stringify(result)).toBe(2);
      expect(result.stderr).toContain(`cannot create the directory ${stateFile}: a file that is not a directory is in the way (EEXIST)`);
    }
    expect(transcript.leaks()).toEqual([]);
  });
});

describe('secrets in an in-process gateway', () => {
  it('never reach its log lines or its responses', async () => {
    const gateway = await startGateway(
      {
        gateway: { auth: { mode: 'token', token: '${GW_TOKEN}', password: '${GW_PASSWORD}' }, http: { endpoints: { chatCompletions: { enabled: true } } } },
        session: { reset: { mode: 'never' } },
        models: { providers: { up: { api: 'openai-completions', baseUrl: upstream.baseUrl, apiKey: '${UPSTREAM_API_KEY}', maxRetries: 0 } } },
        agents: { list: [{ id: 'main', model: 'up/m' }] },
      },
      { env: { GW_TOKEN: TOKEN, GW_PASSWORD: PASSWORD, UPSTREAM_API_KEY: UPSTREAM_KEY } },
    );
    try {
      expect(gateway.token).toBe(TOKEN);
      const transcript = new Transcript();
      await wrongCredentials(gateway.url, transcript, 'in-process', TOKEN, PASSWORD);
      const ok = await postChat(gateway, turn('hello'));
      await transcript.response('right token', ok);
      await readCompletion(ok);
      for (const content of ['deny', 'html', 'event', 'malformed']) {
        for (const stream of [false, true]) {
          const res = await postChat(gateway, turn(content, stream ? { stream: true } : {}));
          await transcript.response(`upstream ${content}, stream ${stream}`, res);
          if (stream && content === 'event') expect((await readStream(res)).error?.type).toBe('upstream_error');
          else expect((await readError(res, 502)).type).toBe('upstream_error');
        }
      }
      const turns = await gateway.store.loadTurns('main', 'agent:main:openai-user:secret-keeper');
      transcript.add('stored turns', JSON.stringify(turns));
      expect(turns.filter((t) => t.status === 'error')).toHaveLength(8);
      transcript.add('gateway logs', gateway.logs.join(''));
      expect(gateway.logs.length).toBeGreaterThan(20);
      expect(transcript.leaks()).toEqual([]);
    } finally {
      await gateway.close();
    }
  });
});
