/**
 * `moltbot sessions list|show` over the store a gateway process wrote, and `moltbot agent`
 * writing to the same SQLite file while the gateway runs.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli, startCliGateway, type RunningGateway } from '../helpers/cli.js';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { assistant, chat, processEnv, showSession, upstreamConfig, user, type SessionHistory } from '../helpers/process-gateway.js';
import { readCompletion, readStream, streamedText } from '../helpers/read.js';
import type { SessionInfo } from '../../src/sessions/store.js';

const USER_KEY = 'agent:main:openai-user:alice';
const EXPLICIT_KEY = 'agent:main:thread-7';
const BETA_KEY = 'agent:beta:openai-user:bob';
const HEADER = ['KEY', 'AGENT', 'KIND', 'CREATED', 'UPDATED', 'TURNS', 'LAST'];
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/u;

let upstream: FakeUpstream;
let gateway: RunningGateway | undefined;
let env: Record<string, string>;
let config: string;
let statelessKey: string;

/** Splits `sessions list` output into rows of cells (cells never contain two spaces). */
function tableRows(stdout: string): string[][] {
  return stdout
    .trimEnd()
    .split('\n')
    .map((line) => line.trim().split(/ {2,}/u));
}

async function cli(args: string[]): Promise<string> {
  const result = await runCli([...args, '--config', config], env);
  expect(result, JSON.stringify(result)).toMatchObject({ code: 0, stderr: '' });
  return result.stdout;
}

// Each test gets its own upstream, state dir and gateway process with the same five turns.
beforeEach(async () => {
  upstream = await startFakeUpstream();
  ({ env } = processEnv());
  config = upstreamConfig(upstream.baseUrl, { agents: ['main', 'beta'] });
  gateway = await startCliGateway(['--port', '0', '--config', config], env);
  const url = gateway.url;
  upstream.behaveOnce(
    { kind: 'reply', deltas: ['hi', ' alice'] },
    { kind: 'reply', deltas: ['again', ' alice'] },
    { kind: 'reply', deltas: ['thread', ' reply'] },
    { kind: 'reply', deltas: ['stateless', ' reply'] },
    { kind: 'reply', deltas: ['beta', ' reply'] },
  );
  expect((await readCompletion(await chat(url, { model: 'moltbot', user: 'alice', messages: [user('hello')] }))).choices[0]?.message.content).toBe('hi alice');
  expect(streamedText(await readStream(await chat(url, { model: 'moltbot', user: 'alice', stream: true, messages: [user('hello again')] })))).toBe('again alice');
  const explicit = await chat(url, { model: 'moltbot', messages: [user('in a thread')] }, { 'x-moltbot-session-key': EXPLICIT_KEY });
  expect((await readCompletion(explicit)).choices[0]?.message.content).toBe('thread reply');
  const stateless = await chat(url, { model: 'moltbot', messages: [user('no session')] });
  statelessKey = stateless.headers.get('x-moltbot-session-key') ?? '';
  expect(statelessKey).toMatch(/^agent:main:openai:[0-9a-f-]{36}$/u);
  expect((await readCompletion(stateless)).choices[0]?.message.content).toBe('stateless reply');
  expect((await readCompletion(await chat(url, { model: 'moltbot:beta', user: 'bob', messages: [user('hello beta')] }))).choices[0]?.message.content).toBe('beta reply');
});

afterEach(async () => {
  gateway?.child.kill('SIGKILL');
  gateway = undefined;
  await upstream.close();
});

describe('moltbot sessions (store written by a gateway process)', () => {
  it('list: a table with one row per transcript; --agent filters; --json has the fields', async () => {
    const [text, beta, json] = await Promise.all([cli(['sessions', 'list']), cli(['sessions', 'list', '--agent', 'beta']), cli(['sessions', 'list', '--json'])]);

    const [header, ...rows] = tableRows(text);
    expect(header).toEqual(HEADER);
    expect(rows).toHaveLength(4);
    const byKey = new Map(rows.map((row) => [row[0], row]));
    expect([...byKey.keys()].sort()).toEqual([BETA_KEY, EXPLICIT_KEY, USER_KEY, statelessKey].sort());
    expect(byKey.get(USER_KEY)?.slice(1, 3)).toEqual(['main', 'user']);
    expect(byKey.get(USER_KEY)?.slice(5)).toEqual(['2', 'ok']);
    expect(byKey.get(EXPLICIT_KEY)?.slice(1, 3)).toEqual(['main', 'explicit']);
    expect(byKey.get(statelessKey)?.slice(1, 3)).toEqual(['main', 'stateless']);
    expect(byKey.get(BETA_KEY)?.slice(1)).toEqual(['beta', 'user', expect.stringMatching(ISO), expect.stringMatching(ISO), '1', 'ok']);
    for (const row of rows) {
      expect(row).toHaveLength(HEADER.length);
      expect(row[3]).toMatch(ISO);
      expect(row[4]).toMatch(ISO);
    }

    const [betaHeader, ...betaRows] = tableRows(beta);
    expect(betaHeader).toEqual(HEADER);
    expect(betaRows.map((row) => row[0])).toEqual([BETA_KEY]);

    const sessions = JSON.parse(json) as SessionInfo[];
    expect(sessions).toHaveLength(4);
    for (const session of sessions) {
      expect(session).toEqual(
        expect.objectContaining({ key: expect.any(String), agentId: expect.any(String), createdAt: expect.any(Number), updatedAt: expect.any(Number), turns: expect.any(Number), lastStatus: 'ok' }),
      );
      expect(session.updatedAt).toBeGreaterThanOrEqual(session.createdAt);
    }
    const summary = sessions.map((s) => [s.key, s.agentId, s.kind, s.turns]).sort((a, b) => String(a[0]).localeCompare(String(b[0])));
    expect(summary).toEqual(
      [
        [USER_KEY, 'main', 'user', 2],
        [EXPLICIT_KEY, 'main', 'explicit', 1],
        [statelessKey, 'main', 'stateless', 1],
        [BETA_KEY, 'beta', 'user', 1],
      ].sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
    );
    // Most recently updated first.
    expect(sessions.map((s) => s.updatedAt)).toEqual([...sessions.map((s) => s.updatedAt)].sort((a, b) => b - a));
  });

  it('show: the turns as text and as [{session, turns}] JSON; an unknown key exits 2', async () => {
    const [text, history, unknown] = await Promise.all([
      cli(['sessions', 'show', USER_KEY]),
      showSession(USER_KEY, env, config),
      runCli(['sessions', 'show', 'agent:main:nobody', '--config', config], env),
    ]);

    const lines = text.split('\n').map((line) => line.trim());
    expect(lines.slice(0, 2)).toEqual(['agent main', '']);
    expect(lines[2]?.split(/ {2,}/u)).toEqual(HEADER);
    expect(lines[3]?.split(/ {2,}/u).slice(0, 3)).toEqual([USER_KEY, 'main', 'user']);
    const first = lines.findIndex((line) => /^#1 ok \S+$/u.test(line));
    const second = lines.findIndex((line) => /^#2 ok \S+$/u.test(line));
    expect(first).toBeGreaterThan(1);
    expect(lines.slice(first + 1, first + 3)).toEqual(['user: hello', 'assistant: hi alice']);
    expect(second).toBeGreaterThan(first);
    expect(lines.slice(second + 1, second + 3)).toEqual(['user: hello again', 'assistant: again alice']);

    expect(history).toHaveLength(1);
    expect(history[0]?.session).toMatchObject({ key: USER_KEY, agentId: 'main', kind: 'user', turns: 2, lastStatus: 'ok' });
    expect(history[0]?.turns.map((t) => [t.seq, t.status, t.input, t.reply])).toEqual([
      [1, 'ok', [user('hello')], assistant('hi alice')],
      [2, 'ok', [user('hello again')], assistant('again alice')],
    ]);

    expect(unknown.code).toBe(2);
    expect(unknown.stdout).toBe('');
    expect(unknown.stderr).toMatch(/no session with key 'agent:main:nobody'/u);
  });

  it("show KEY: every agent's transcripts of a key, grouped by agent; --agent ID only that agent's; the prefix in any case", async () => {
    const url = gateway?.url ?? '';
    upstream.behaveOnce({ kind: 'reply', deltas: ['main', ' shared'] }, { kind: 'reply', deltas: ['beta', ' shared'] });
    for (const model of ['moltbot:main', 'moltbot:beta']) {
      await readCompletion(await chat(url, { model, messages: [user(`hi from ${model}`)] }, { 'x-moltbot-session-key': 'shared-thread' }));
    }
    const [all, betaOnly, text] = await Promise.all([
      showSession('shared-thread', env, config),
      cli(['sessions', 'show', 'shared-thread', '--agent', 'BETA', '--json']).then((out) => JSON.parse(out) as SessionHistory),
      cli(['sessions', 'show', 'shared-thread']),
    ]);
    expect(all.map(({ session, turns }) => [session.agentId, session.key, turns.map((t) => t.reply?.content)])).toEqual([
      ['beta', 'shared-thread', ['beta shared']],
      ['main', 'shared-thread', ['main shared']],
    ]);
    expect(betaOnly.map(({ session }) => session.agentId)).toEqual(['beta']);
    const headings = text.split('\n').filter((line) => line.startsWith('agent '));
    expect(headings).toEqual(['agent beta', 'agent main']);

    // `Agent:Main:thread-7` is the session agent:main:thread-7.
    const [canonical] = await showSession('Agent:MAIN:thread-7', env, config);
    expect(canonical?.session).toMatchObject({ key: EXPLICIT_KEY, agentId: 'main' });
    const none = await runCli(['sessions', 'show', 'shared-thread', '--agent', 'nobody', '--config', config], env);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/no session with key 'shared-thread' for agent 'nobody'/u);
  });

  it('moltbot agent writes to the store the running gateway uses, and each sees the other\'s turns', async () => {
    upstream.behaveOnce({ kind: 'reply', deltas: ['from', ' the cli'] }, { kind: 'reply', deltas: ['back', ' on http'] });
    const before = upstream.requests.length;
    const out = JSON.parse(await cli(['agent', '--message', 'cli turn', '--session-key', EXPLICIT_KEY, '--json'])) as Record<string, unknown>;
    expect(out).toMatchObject({ agentId: 'main', sessionKey: EXPLICIT_KEY, reply: 'from the cli', finishReason: 'stop' });
    // The CLI's request carried the turn the gateway had stored.
    expect(upstream.requests[before]?.body.messages).toEqual([user('in a thread'), assistant('thread reply'), user('cli turn')]);

    const [afterCli]: SessionHistory = await showSession(EXPLICIT_KEY, env, config);
    expect(afterCli?.session).toMatchObject({ kind: 'explicit', turns: 2, lastStatus: 'ok' });
    expect(afterCli?.turns.map((t) => [t.seq, t.status, t.input, t.reply])).toEqual([
      [1, 'ok', [user('in a thread')], assistant('thread reply')],
      [2, 'ok', [user('cli turn')], assistant('from the cli')],
    ]);

    // And the gateway, still up, reads the CLI's turn as history.
    const back = await chat(gateway?.url ?? '', { model: 'moltbot', messages: [user('http again')] }, { 'x-moltbot-session-key': EXPLICIT_KEY });
    expect((await readCompletion(back)).choices[0]?.message.content).toBe('back on http');
    expect(upstream.requests[before + 1]?.body.messages).toEqual([
      user('in a thread'),
      assistant('thread reply'),
      user('cli turn'),
      assistant('from the cli'),
      user('http again'),
    ]);
    const [afterHttp] = await showSession(EXPLICIT_KEY, env, config);
    expect(afterHttp?.turns.map((t) => [t.seq, t.status])).toEqual([
      [1, 'ok'],
      [2, 'ok'],
      [3, 'ok'],
    ]);
  });
});
