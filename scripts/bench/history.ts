/**
 * Scenario 3: does a long session cost more per request? A gateway on echo whose store
 * was filled beforehand, through the built store itself, with a `user` session of 10,000
 * turns (and one of 60, just past the default `history.maxTurns` of 50: the same history
 * sent, few turns stored, which separates "history is sent" from "history is stored").
 * Compared, at c=1 over the same number of requests, with requests without `user`, each
 * of which starts a new session.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { randomUUID } from 'node:crypto';
import type { SessionStore } from '../../src/sessions/store.js';
import { MESSAGE, REQUEST_BODY, REQUEST_HEADERS, userBody } from './payloads.mjs';
import { load, percentile, type Target } from './measure.js';
import { ROOT, SCRATCH, startGateway } from './procs.js';

export interface HistorySeries {
  p50: number[];
  p99: number[];
  failed: number;
}

/** Requests per block; the kinds alternate block by block. */
const BLOCK = 50;

/** The stored sessions: name in the report → `user` and turns stored. */
const USERS = { 'session-60': { user: 'bench-60', turns: 60 }, 'session-10k': { user: 'bench-10k', turns: 10_000 } } as const;

/** Writes `turns` finished turns under the key the gateway derives from `user`. */
async function fill(store: SessionStore, user: string, turns: number): Promise<void> {
  const session = { id: randomUUID(), key: `agent:main:openai-user:${user}`, agentId: 'main', kind: 'user' as const };
  for (let i = 0; i < turns; i += 1) {
    const now = Date.now();
    const expected = { sessionId: i === 0 ? undefined : session.id, turns: i };
    const write = store.beginTurn({ session, newTranscript: i === 0, expected, input: [{ role: 'user', content: MESSAGE }], startedAt: now });
    await write.started;
    await write.finish({
      status: 'ok',
      reply: { role: 'assistant', content: MESSAGE },
      finishReason: 'stop',
      usage: { promptTokens: 17, completionTokens: 10, totalTokens: 27 },
      endedAt: now,
    });
  }
}

async function promptTokens(url: string, body: string): Promise<number> {
  const res = await fetch(url, { method: 'POST', headers: REQUEST_HEADERS, body });
  const json = (await res.json()) as { usage?: { prompt_tokens?: number } };
  if (res.status !== 200) throw new Error(`history check answered ${res.status}: ${JSON.stringify(json)}`);
  return json.usage?.prompt_tokens ?? Number.NaN;
}

export async function history(options: { rounds: number; requests: number }): Promise<{ series: Record<string, HistorySeries>; fillMs: number; promptTokens: Record<string, number> }> {
  const stateDir = join(SCRATCH, 'history-state');
  const { openSqliteStore } = (await import(pathToFileURL(join(ROOT, 'dist/src/sessions/sqlite-store.js')).href)) as typeof import('../../src/sessions/sqlite-store.js');
  const started = performance.now();
  const store = openSqliteStore(join(stateDir, 'sessions.sqlite'));
  for (const { user, turns } of Object.values(USERS)) await fill(store, user, turns);
  await store.close();
  const fillMs = performance.now() - started;
  process.stderr.write(`  stored ${Object.values(USERS).map((u) => u.turns).join(' + ')} turns in ${fillMs.toFixed(0)} ms\n`);

  const gateway = await startGateway('gateway-echo-history', { stateDir });
  try {
    const url = `${gateway.url}/v1/chat/completions`;
    const bodies: Record<string, string> = { 'new-session': REQUEST_BODY };
    for (const [name, { user }] of Object.entries(USERS)) bodies[name] = userBody(user);
    // Echo counts every word it is sent as a prompt token: proof that the stored sessions
    // were found under the right key and that history is bounded (50 turns, not 10,000).
    const tokens: Record<string, number> = {};
    for (const [name, body] of Object.entries(bodies)) tokens[name] = await promptTokens(url, body);
    const stored = tokens['session-10k'] as number;
    if (!(stored > (tokens['new-session'] as number) + 500)) throw new Error(`the 10,000-turn session was not picked up (prompt tokens ${stored})`);
    if (stored !== tokens['session-60']) throw new Error(`history is not bounded alike: ${JSON.stringify(tokens)}`);

    const target: Target = { name: 'gateway-echo', url, headers: REQUEST_HEADERS };
    const names = Object.keys(bodies);
    const series: Record<string, HistorySeries> = Object.fromEntries(names.map((n) => [n, { p50: [], p99: [], failed: 0 }]));
    for (const name of names) await load(target, bodies[name] as string, { connections: 1, amount: Math.min(100, options.requests) });
    // The three kinds take turns in blocks of BLOCK requests, not one long run each: a
    // burst of foreign load on this shared machine then hits all three alike. Each
    // round's percentiles are computed over all of its blocks.
    const blocks = Math.max(1, Math.round(options.requests / BLOCK));
    for (let round = 0; round < options.rounds; round += 1) {
      const pooled: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
      for (let block = 0; block < blocks; block += 1) {
        const shift = (round + block) % names.length;
        for (const name of [...names.slice(shift), ...names.slice(0, shift)]) {
          const run = await load(target, bodies[name] as string, { connections: 1, amount: BLOCK });
          pooled[name]?.push(...run.durations);
          (series[name] as HistorySeries).failed += run.failed;
        }
      }
      for (const name of names) {
        const sorted = (pooled[name] as number[]).sort((a, b) => a - b);
        const s = series[name] as HistorySeries;
        s.p50.push(percentile(sorted, 0.5));
        s.p99.push(percentile(sorted, 0.99));
        process.stderr.write(`  round ${round + 1}/${options.rounds} history ${name.padEnd(12)} p50 ${s.p50.at(-1)?.toFixed(3)} ms  p99 ${s.p99.at(-1)?.toFixed(3)} ms\n`);
      }
    }
    return { series, fillMs, promptTokens: tokens };
  } finally {
    await gateway.proc.stop();
  }
}
