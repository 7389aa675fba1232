/**
 * For tests that run the gateway as a real process against the fake upstream: the
 * config, the environment (token, fresh state dir), requests, the gateway's log lines,
 * and `moltbot sessions show --json` read back.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { expect } from 'vitest';
import type { SessionInfo, Turn } from '../../src/sessions/store.js';
import { cleanEnv, runCli, writeConfig, type Finished } from './cli.js';

export const PROCESS_TOKEN = 'process-token-5d1f0a7e';

/**
 * A config file for a gateway whose agents all use the fake upstream's model `up/m`; with
 * `postgresSchema`, its store is PostgreSQL at `$MOLTBOT_DATABASE_URL` in that schema (a replica).
 */
export function upstreamConfig(baseUrl: string, options: { graceSeconds?: number; agents?: string[]; postgresSchema?: string } = {}): string {
  const agents = (options.agents ?? ['main']).map((id) => `{ id: '${id}', model: 'up/m' }`).join(', ');
  const grace = options.graceSeconds === undefined ? '' : `shutdownGraceSeconds: ${options.graceSeconds},`;
  const store = options.postgresSchema === undefined ? '' : `store: { kind: 'postgres', url: '\${MOLTBOT_DATABASE_URL}', schema: '${options.postgresSchema}', poolSize: 4 },`;
  return writeConfig(`{
  gateway: { http: { endpoints: { chatCompletions: { enabled: true } } }, ${grace} },
  session: { reset: { mode: 'never' }, ${store} },
  models: { providers: { up: { api: 'openai-completions', baseUrl: '${baseUrl}', maxRetries: 0 } } },
  agents: { list: [${agents}] },
}`);
}

/** A clean environment with the token and a fresh state dir; returns the dir too. */
export function processEnv(): { env: Record<string, string>; stateDir: string } {
  const stateDir = mkdtempSync(join(tmpdir(), 'moltbot-state-'));
  return { env: cleanEnv({ CLAWDBOT_GATEWAY_TOKEN: PROCESS_TOKEN, MOLTBOT_STATE_DIR: stateDir }), stateDir };
}

/** POSTs a chat completion to a gateway process with the token. */
export function chat(url: string, body: Record<string, unknown>, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${PROCESS_TOKEN}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

/** Resolves with the first line of `stream` matching `pattern`; rejects if the stream ends first. */
export function waitForLine(stream: Readable, pattern: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: stream });
    lines.on('line', (line) => {
      if (!pattern.test(line)) return;
      resolve(line);
      lines.close();
    });
    lines.on('close', () => reject(new Error(`stream ended without a line matching ${pattern}`)));
  });
}

/** Rejects if `promise` has not settled within `ms`: a bound, not a synchronisation. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  return Promise.race([promise, bound]).finally(() => clearTimeout(timer));
}

export type SessionHistory = { session: SessionInfo; turns: Turn[] }[];

/** `moltbot sessions show KEY --json`, which must succeed with nothing on stderr. */
export async function showSession(key: string, env: Record<string, string>, config: string): Promise<SessionHistory> {
  const result: Finished = await runCli(['sessions', 'show', key, '--json', '--config', config], env);
  expect(result, JSON.stringify(result)).toMatchObject({ code: 0, stderr: '' });
  return JSON.parse(result.stdout) as SessionHistory;
}

export const user = (content: string): { role: 'user'; content: string } => ({ role: 'user', content });
export const assistant = (content: string): { role: 'assistant'; content: string } => ({ role: 'assistant', content });
