/**
 * Retention with real processes: `moltbot sessions prune` beside a running gateway under
 * load (no request fails, no `database is locked`, a running turn's transcript is never
 * deleted), its usage errors, and the gateway's own background pass by
 * `session.retention` shortly after it starts. Prints how long the prune took.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, startCliGateway, writeConfig, type RunningGateway } from '../helpers/cli.js';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { writeOldTranscripts } from '../helpers/old-transcripts.js';
import { openStream } from '../helpers/open-stream.js';
import { PROCESS_TOKEN, chat, processEnv, showSession, user, waitForLine, within } from '../helpers/process-gateway.js';
import { readCompletion } from '../helpers/read.js';
import type { SessionInfo } from '../../src/sessions/store.js';

const DAY = 86_400_000;

let upstream: FakeUpstream | undefined;
let gateway: RunningGateway | undefined;
afterEach(async () => {
  gateway?.child.kill('SIGKILL');
  gateway = undefined;
  await upstream?.close();
  upstream = undefined;
});

function gatewayConfig(baseUrl: string, retention: string): string {
  return writeConfig(`{
    gateway: { auth: { rateLimit: { exemptLoopback: true } }, http: { endpoints: { chatCompletions: { enabled: true } } } },
    session: { reset: { mode: 'never' }, retention: ${retention} },
    models: { providers: { up: { api: 'openai-completions', baseUrl: '${baseUrl}', maxRetries: 0 } } },
    agents: { defaults: { maxConcurrent: 16 }, list: [{ id: 'main', model: 'up/m' }] },
  }`);
}

describe('moltbot sessions prune beside a running gateway', () => {
  it('deletes old transcripts while the gateway serves, never one with a running turn', { timeout: 120_000 }, async () => {
    upstream = await startFakeUpstream();
    upstream.behaveWith((body) => {
      const content = String((body.messages as { content: unknown }[]).at(-1)?.content);
      return content === 'hold me' ? { kind: 'hold', deltas: ['held'] } : { kind: 'reply', deltas: [`re: ${content}`] };
    });
    const { env, stateDir } = processEnv();
    // The gateway's own pass keeps everything: only the CLI prunes here.
    const config = gatewayConfig(upstream.baseUrl, '{ stateless: null }');
    gateway = await startCliGateway(['--port', '0', '--config', config], env);
    const url = gateway.url;
    const cli = (...args: string[]) => runCli(['sessions', ...args, '--config', config], env, 60_000);

    writeOldTranscripts(join(stateDir, 'sessions.sqlite'), 2000, Date.now() - 3 * DAY);
    await readCompletion(await chat(url, { model: 'moltbot', user: 'alice', messages: [user('hello')] }));
    // A turn that stays running until released.
    const held = openStream(await chat(url, { model: 'moltbot', stream: true, messages: [user('hold me')] }, { 'x-moltbot-session-key': 'agent:main:busy' }));
    await held.waitFor((raw) => raw.includes('held'));

    // Steady traffic from four clients while the prune runs.
    let stop = false;
    let served = 0;
    const failures: string[] = [];
    const client = async (n: number): Promise<void> => {
      for (let i = 0; !stop; i += 1) {
        const res = await chat(url, { model: 'moltbot', messages: [user(`c${n} ${i}`)] });
        if (res.status === 200) served += 1;
        else failures.push(`${res.status} ${await res.text()}`);
        await res.arrayBuffer().catch(() => undefined);
      }
    };
    const load = Promise.all([1, 2, 3, 4].map(client));
    try {
      const dry = await cli('prune', '--older-than', '1d', '--kind', 'stateless', '--dry-run', '--json');
      expect(dry, JSON.stringify(dry)).toMatchObject({ code: 0, stderr: '' });
      expect(JSON.parse(dry.stdout)).toEqual({ dryRun: true, sessions: 2000, turns: 2000, reclaimedBytes: 0 });

      const started = performance.now();
      const real = await cli('prune', '--older-than', '1d', '--kind', 'stateless', '--json');
      const ms = performance.now() - started;
      expect(real, JSON.stringify(real)).toMatchObject({ code: 0, stderr: '' });
      const result = JSON.parse(real.stdout) as { sessions: number; turns: number; reclaimedBytes: number };
      expect(result).toMatchObject({ dryRun: false, sessions: 2000, turns: 2000 });
      console.log(`sessions-prune: the CLI pruned ${result.sessions} transcripts in ${ms.toFixed(0)} ms (process start included), ${(result.reclaimedBytes / 1024 / 1024).toFixed(1)} MiB given back, beside a gateway that served ${served} requests meanwhile`);
    } finally {
      stop = true;
      await load;
    }
    expect(failures).toEqual([]);
    expect(served).toBeGreaterThan(0);

    // Everything older than now, of every kind: all but the transcript whose turn still runs.
    const all = await cli('prune', '--older-than', '0s');
    expect(all, JSON.stringify(all)).toMatchObject({ code: 0, stderr: '' });
    expect(all.stdout).toMatch(/^pruned \d+ transcripts \(\d+ turns\); \d+\.\d MiB given back to the file system\n$/u);
    const left = JSON.parse((await cli('list', '--json')).stdout) as SessionInfo[];
    expect(left.map((s) => [s.key, s.lastStatus])).toEqual([['agent:main:busy', 'running']]);
    upstream.release();
    expect((await held.finish()).error).toBeUndefined();
    const [busy] = await showSession('agent:main:busy', env, config);
    expect(busy?.turns.map((t) => t.status)).toEqual(['ok']);
  });

  it('refuses bad usage with exit 2 and a message', async () => {
    const { env } = processEnv();
    const cases: [string[], RegExp][] = [
      [['prune'], /sessions prune needs --older-than DURATION/u],
      [['prune', '--older-than', '7days'], /--older-than: '7days' is not a duration/u],
      [['prune', '--older-than', '1d', '--kind', 'everything'], /--kind must be one of stateless, user, explicit/u],
      [['list', '--older-than', '1d'], /--older-than and --kind belong to sessions prune/u],
    ];
    const results = await Promise.all(cases.map(([args]) => runCli(['sessions', ...args], env)));
    for (const [i, result] of results.entries()) {
      expect(result.code, JSON.stringify(result)).toBe(2);
      expect(result.stderr).toMatch((cases[i] as [string[], RegExp])[1]);
    }
  });
});

describe('the gateway applies session.retention in the background', () => {
  it('shortly after it starts, prunes stateless transcripts older than 7 days (the default) and keeps user ones', async () => {
    const { env, stateDir } = processEnv();
    const config = writeConfig(`{ gateway: { http: { endpoints: { chatCompletions: { enabled: true } } } } }`);
    // A store with 300 stateless transcripts 8 days old, 5 at 6 days, and 5 user ones 30 days old.
    expect((await runCli(['sessions', 'list', '--config', config], env)).code).toBe(0);
    const path = join(stateDir, 'sessions.sqlite');
    writeOldTranscripts(path, 300, Date.now() - 8 * DAY);
    writeOldTranscripts(path, 5, Date.now() - 6 * DAY);
    writeOldTranscripts(path, 5, Date.now() - 30 * DAY, 'kept', 'user');
    gateway = await startCliGateway(['--port', '0', '--config', config], env);
    const line = await within(waitForLine(gateway.child.stderr, /"pruned old sessions"/u), 20_000, 'the gateway logging its retention pass');
    expect(JSON.parse(line)).toMatchObject({ level: 'info', message: 'pruned old sessions', sessions: 300, turns: 300 });
    const models = await fetch(`${gateway.url}/v1/models`, { headers: { authorization: `Bearer ${PROCESS_TOKEN}` } });
    expect(models.status).toBe(200);
    const left = JSON.parse((await runCli(['sessions', 'list', '--json', '--config', config], env)).stdout) as SessionInfo[];
    expect(left.map((s) => s.kind).sort()).toEqual([...Array(5).fill('stateless'), ...Array(5).fill('user')]);
  });
});
