/**
 * Child processes of the benchmark: every target runs in a process of its own, bound to
 * 127.0.0.1, spawned from here and tracked, so that one call (also run on SIGINT, SIGTERM
 * and on the benchmark's own errors) ends the whole tree.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, closeSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { TOKEN } from './payloads.mjs';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const HERE = fileURLToPath(new URL('./', import.meta.url));
/** Scratch space of this run: configs, state dirs, gateway logs. Removed at exit. */
export const SCRATCH = mkdtempSync(join(tmpdir(), 'moltbot-bench-'));

export interface Proc {
  name: string;
  child: ChildProcess;
  pid: number;
  /** Resolves with the first stdout line matching `re` (lines already seen count). */
  waitForLine(re: RegExp, timeoutMs: number): Promise<RegExpExecArray>;
  /** Where its stderr went, if to a file (gateways log a JSON line per request). */
  logPath?: string;
  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

const live = new Set<ChildProcess>();

export function spawnTracked(name: string, args: string[], options: { env?: NodeJS.ProcessEnv; logToFile?: boolean } = {}): Proc {
  // A gateway writes a log line per request; a pipe nobody reads would block it, and
  // forwarding it would put the benchmark's own work on the measured path. A file is what
  // a deployment would do. The other targets are quiet, so their stderr is ours.
  const logPath = options.logToFile ? join(SCRATCH, `${name}-${Date.now()}-${live.size}.log`) : undefined;
  const logFd = logPath ? openSync(logPath, 'w') : undefined;
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: options.env ?? process.env,
    // stdin stays a pipe: the floors and the upstream exit when it closes, and the upstream
    // takes its `release` command there.
    stdio: ['pipe', 'pipe', logFd ?? 'inherit'],
  });
  if (logFd !== undefined) closeSync(logFd);
  if (child.pid === undefined) throw new Error(`${name}: could not be spawned`);
  live.add(child);
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  let exited: string | undefined;
  createInterface({ input: child.stdout! }).on('line', (line) => {
    lines.push(line);
    for (const wake of waiters) wake();
  });
  child.on('exit', (code, signal) => {
    live.delete(child);
    exited = `exited (${signal ?? `code ${code}`})`;
    for (const wake of waiters) wake();
  });
  const pid = child.pid;

  return {
    name,
    child,
    pid,
    ...(logPath ? { logPath } : {}),
    waitForLine(re, timeoutMs) {
      return new Promise((resolve, reject) => {
        let seen = 0;
        const check = (): void => {
          for (; seen < lines.length; seen += 1) {
            const match = re.exec(lines[seen] as string);
            if (match) return done(() => resolve(match));
          }
          if (exited) done(() => reject(new Error(`${name} ${exited} before printing ${re}${logTail(logPath)}`)));
        };
        const timer = setTimeout(() => done(() => reject(new Error(`${name}: no ${re} within ${timeoutMs} ms${logTail(logPath)}`))), timeoutMs);
        const done = (settle: () => void): void => {
          clearTimeout(timer);
          waiters.delete(check);
          settle();
        };
        waiters.add(check);
        check();
      });
    },
    async stop(graceMs = 3000) {
      if (!live.has(child)) return;
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await gone;
      clearTimeout(timer);
    },
  };
}

function logTail(path: string | undefined): string {
  if (!path) return '';
  try {
    return `\n--- last lines of ${path} ---\n${readFileSync(path, 'utf8').trimEnd().split('\n').slice(-10).join('\n')}`;
  } catch {
    return '';
  }
}

/** Kills every child still running. Synchronous, so it also works from an `exit` handler. */
export function killAll(): void {
  for (const child of live) child.kill('SIGKILL');
  live.clear();
}

/** Ends the whole tree however the benchmark ends: normally, on a signal, on its own error. */
export function installCleanup(): void {
  process.on('exit', () => {
    killAll();
    rmSync(SCRATCH, { recursive: true, force: true });
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      console.error(`\nbench: ${signal}, stopping every target`);
      process.exit(130);
    });
  }
  const fail = (err: unknown): void => {
    console.error('bench failed:', err);
    process.exit(1);
  };
  process.on('uncaughtException', fail);
  process.on('unhandledRejection', fail);
}

/** Resident set size of a process, in MB (10^6 bytes), from /proc/<pid>/status. */
export function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /^VmRSS:\s+(\d+)\s+kB/mu.exec(status);
  if (!kb) throw new Error(`no VmRSS for pid ${pid}`);
  return (Number(kb[1]) * 1024) / 1e6;
}

/** A port free right now (the start-up scenario must know it before the gateway prints it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export async function startNodeServer(name: string, script: string, args: string[] = []): Promise<{ proc: Proc; url: string }> {
  const proc = spawnTracked(name, [join(HERE, script), ...args]);
  const [, url] = await proc.waitForLine(/^listening (http:\/\/\S+)$/u, 15_000);
  return { proc, url: url as string };
}

/** The fake upstream: `baseUrl` includes `/v1`, as a provider is configured. */
export async function startUpstream(name: string, mode: 'reply' | 'hold' | 'paced'): Promise<{ proc: Proc; baseUrl: string }> {
  const proc = spawnTracked(name, ['--import', 'tsx', join(HERE, 'upstream.ts'), '--mode', mode]);
  const [, baseUrl] = await proc.waitForLine(/^baseUrl (http:\/\/\S+)$/u, 20_000);
  return { proc, baseUrl: baseUrl as string };
}

export interface GatewayOptions {
  /** Agent main on echo, or on the given OpenAI-compatible upstream. */
  upstream?: string;
  /** A state dir prepared beforehand (the history scenario); else a fresh one. */
  stateDir?: string;
  /** Overrides `agents.defaults.maxConcurrent`/`maxQueued` (only the memory scenario needs it). */
  limits?: { maxConcurrent: number; maxQueued: number };
  /**
   * The config a new user writes and nothing more: the endpoint enabled and the default
   * agent's model on the upstream; every other setting (limits, sessions, auth rate
   * limit, retries) at its default. The many-users scenario measures the defaults.
   */
  plain?: boolean;
  port?: number;
  /** `--log-level` (default: the gateway's, `info`). */
  logLevel?: string;
  /** `gateway.metrics.enabled` (default: the gateway's, true). */
  metrics?: boolean;
  /** `session.store` (PostgreSQL); the SQLite store in the state dir when absent. */
  store?: Record<string, unknown>;
}

let configs = 0;

/** The config file's content (JSON, which is JSON5). */
function configFor(options: GatewayOptions): object {
  if (options.plain) {
    return {
      gateway: { http: { endpoints: { chatCompletions: { enabled: true } } } },
      models: { providers: options.upstream ? { up: { api: 'openai-completions', baseUrl: options.upstream } } : {} },
      agents: { defaults: { model: options.upstream ? 'up/bench-model' : 'echo/echo' } },
    };
  }
  return {
    gateway: {
      bind: 'loopback',
      auth: { mode: 'token', rateLimit: { exemptLoopback: true } },
      ...(options.metrics === undefined ? {} : { metrics: { enabled: options.metrics } }),
      http: { endpoints: { chatCompletions: { enabled: true } } },
    },
    session: { reset: { mode: 'never' }, ...(options.store ? { store: options.store } : {}) },
    models: {
      providers: {
        echo: { api: 'echo' },
        ...(options.upstream ? { up: { api: 'openai-completions', baseUrl: options.upstream, maxRetries: 0 } } : {}),
      },
    },
    agents: {
      defaults: { model: options.upstream ? 'up/bench-model' : 'echo/echo', ...options.limits },
      list: [{ id: 'main', systemPrompt: 'You are Moltbot, a helpful assistant.' }],
    },
  };
}

/** Writes the gateway's config file and returns the spawn arguments. */
export function gatewayArgs(options: GatewayOptions): { args: string[]; env: NodeJS.ProcessEnv; stateDir: string } {
  const stateDir = options.stateDir ?? mkdtempSync(join(SCRATCH, 'state-'));
  mkdirSync(stateDir, { recursive: true });
  const config = configFor(options);
  const path = join(SCRATCH, `gateway-${(configs += 1)}.json5`);
  writeFileSync(path, JSON.stringify(config, null, 2));
  const env: NodeJS.ProcessEnv = { ...process.env, CLAWDBOT_GATEWAY_TOKEN: TOKEN, MOLTBOT_STATE_DIR: stateDir };
  // Nothing from the caller's shell may change which secret or state the gateway uses.
  for (const name of ['MOLTBOT_GATEWAY_TOKEN', 'CLAWDBOT_GATEWAY_PASSWORD', 'MOLTBOT_GATEWAY_PASSWORD', 'CLAWDBOT_STATE_DIR']) delete env[name];
  const args = [join(ROOT, 'bin/moltbot.mjs'), 'gateway', '--config', path, '--port', String(options.port ?? 0), ...(options.logLevel ? ['--log-level', options.logLevel] : [])];
  return { args, env, stateDir };
}

export async function startGateway(name: string, options: GatewayOptions = {}): Promise<{ proc: Proc; url: string; stateDir: string }> {
  const { args, env, stateDir } = gatewayArgs(options);
  const proc = spawnTracked(name, args, { env, logToFile: true });
  const [, url] = await proc.waitForLine(/^listening on (http:\/\/\S+)$/u, 20_000);
  return { proc, url: url as string, stateDir };
}
