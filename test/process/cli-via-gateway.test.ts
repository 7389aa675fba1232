/**
 * Point 8: `moltbot agent` runs its turn through the running gateway over the WebSocket
 * protocol (as Moltbot's own CLI does), so a CLI turn and an HTTP turn on one session are
 * serialised by the gateway's lane; `--local` runs in-process; a gateway that refuses is
 * an error, never a silent local run; `moltbot status` reports the gateway via `health`.
 * Real processes: a gateway and the CLI, configured with the gateway's port.
 */
import { spawn } from 'node:child_process';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BIN, finished, runCli, startCliGateway, writeConfig, type RunningGateway } from '../helpers/cli.js';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { assistant, chat, processEnv, showSession, user, waitForLine, within } from '../helpers/process-gateway.js';
import { readCompletion } from '../helpers/read.js';

const KEY = 'agent:main:desk';
const WAITING = /^moltbot: waiting for a turn of this session that another process \(a gateway\?\) is running$/u;

let upstream: FakeUpstream;
let gateway: RunningGateway | undefined;
let env: Record<string, string>;
/** The config the CLI reads: the gateway's, with its port. */
let config: string;

const configText = (port: number | undefined) => `{
  gateway: { ${port === undefined ? '' : `port: ${port},`} http: { endpoints: { chatCompletions: { enabled: true } } } },
  session: { reset: { mode: 'never' } },
  models: { providers: { up: { api: 'openai-completions', baseUrl: '${upstream.baseUrl}', maxRetries: 0 } } },
  agents: { list: [{ id: 'main', model: 'up/m' }] },
}`;

beforeEach(async () => {
  upstream = await startFakeUpstream();
  upstream.behaveWith((body) => {
    const content = String((body.messages as { content: unknown }[]).at(-1)?.content);
    const answer = content.replace('turn', 'answer');
    return content.startsWith('slow') ? { kind: 'hold', deltas: [answer] } : { kind: 'reply', deltas: [answer] };
  });
  ({ env } = processEnv());
  gateway = await startCliGateway(['--port', '0', '--config', writeConfig(configText(undefined))], env);
  config = writeConfig(configText(Number(new URL(gateway.url).port)));
});
afterEach(async () => {
  gateway?.child.kill('SIGKILL');
  gateway = undefined;
  await upstream.close();
});

function agent(args: string[], extraEnv: Record<string, string> = {}) {
  const child = spawn(process.execPath, [BIN, 'agent', ...args, '--config', config], { env: { ...env, ...extraEnv }, timeout: 60_000 });
  return { done: finished(child), stderr: child.stderr };
}

describe('moltbot agent with a gateway running', () => {
  it('runs the turn in the gateway over WebSocket: streamed reply, stored under the canonical key', async () => {
    const result = await within(agent(['--session-key', 'desk', '--message', 'cli turn one']).done, 30_000, 'the CLI turn');
    expect(result).toMatchObject({ code: 0, stderr: '', stdout: 'cli answer one\n' });
    const json = await within(agent(['--session-key', 'desk', '--message', 'cli turn two', '--json']).done, 30_000, 'the CLI turn');
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ agentId: 'main', sessionKey: KEY, reply: 'cli answer two', finishReason: 'stop', via: `ws://127.0.0.1:${new URL(gateway!.url).port}/` });
    const [history] = await showSession(KEY, env, config);
    expect(history?.turns.map((t) => t.input)).toEqual([[user('cli turn one')], [user('cli turn two')]]);
    expect(upstream.requests.at(-1)?.body.messages).toEqual([user('cli turn one'), assistant('cli answer one'), user('cli turn two')]);
  });

  it('a CLI turn on a session with an HTTP turn running waits in the gateway\'s lane, then builds on it', async () => {
    const http = chat(gateway!.url, { model: 'moltbot', messages: [user('slow http turn')] }, { 'x-moltbot-session-key': KEY });
    await upstream.nthRequest(1);
    const cli = agent(['--session-key', KEY, '--message', 'cli turn after']);
    let waitedInProcess = false;
    void waitForLine(cli.stderr, WAITING).then(() => (waitedInProcess = true), () => undefined);
    // The gateway holds the CLI turn in the session's lane: the upstream sees nothing new until release.
    upstream.release();
    await readCompletion(await http);
    const result = await within(cli.done, 30_000, 'the CLI turn');
    expect(result).toMatchObject({ code: 0, stdout: 'cli answer after\n' });
    expect(waitedInProcess).toBe(false);
    expect(upstream.requests[1]?.body.messages).toEqual([user('slow http turn'), assistant('slow http answer'), user('cli turn after')]);
  });

  it('--local runs in-process beside the gateway (waiting for its turn through the store)', async () => {
    const http = chat(gateway!.url, { model: 'moltbot', messages: [user('slow http turn')] }, { 'x-moltbot-session-key': KEY });
    await upstream.nthRequest(1);
    const cli = agent(['--local', '--session-key', KEY, '--message', 'local turn']);
    await within(waitForLine(cli.stderr, WAITING), 30_000, 'the in-process wait');
    upstream.release();
    await readCompletion(await http);
    expect(await within(cli.done, 30_000, 'the CLI turn')).toMatchObject({ code: 0, stdout: 'local answer\n' });
  });

  it('a gateway that refuses the CLI (wrong token) is an error, and the turn is not run locally', async () => {
    const result = await within(agent(['--message', 'never run'], { CLAWDBOT_GATEWAY_TOKEN: 'not-the-token' }).done, 30_000, 'the CLI');
    // A refused secret is a configuration problem: exit 2.
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/refused: unauthorized: gateway token mismatch/u);
    expect(upstream.requests).toHaveLength(0);
  });
});

describe('moltbot status', () => {
  it('reports the running gateway through health, and fails when none runs', async () => {
    await within(agent(['--session-key', 'desk', '--message', 'cli turn one']).done, 30_000, 'a turn');
    const text = await runCli(['status', '--config', config], env);
    expect(text).toMatchObject({ code: 0, stderr: '' });
    expect(text.stdout).toMatch(/^Gateway: ok at ws:\/\/127\.0\.0\.1:\d+\/ \(version \S+, uptime \d+ s, \d+ ms\)\nSessions: 1\n {2}main \(default\): 1 session\(s\), latest agent:main:desk\n$/u);
    const json = await runCli(['status', '--json', '--config', config], env);
    expect(JSON.parse(json.stdout)).toMatchObject({ health: { ok: true, defaultAgentId: 'main', sessions: { count: 1 } } });
    gateway?.child.kill('SIGTERM');
    await gateway?.done;
    const down = await runCli(['status', '--config', config], env);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/no gateway is running at ws:\/\/127\.0\.0\.1:\d+\//u);
  });
});
