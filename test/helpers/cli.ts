/** Runs the built `moltbot` command as a child process, the way a user does. */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export const BIN = new URL('../../bin/moltbot.mjs', import.meta.url).pathname;

/** An environment without any gateway secrets or config paths of the developer's. */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !/^(CLAWDBOT|MOLTBOT|OPENAI)_/u.test(key)) env[key] = value;
  }
  const home = mkdtempSync(join(tmpdir(), 'moltbot-home-'));
  return { ...env, HOME: home, ...extra };
}

/** Writes a config file into a fresh temp dir and returns its path. */
export function writeConfig(text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'moltbot-cfg-')), 'moltbot.json5');
  writeFileSync(path, text);
  return path;
}

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** How to run the command: as another user (tests run as root), or under a given umask. */
export interface RunAs {
  uid?: number;
  gid?: number;
  /** e.g. `'022'`: the command runs through `sh -c 'umask 022; exec ...'`. */
  umask?: string;
  /** A command the node process is run through, e.g. `['unshare', '--pid', '--fork']`. */
  prefix?: string[];
}

function spawnCli(args: string[], env: Record<string, string>, timeoutMs: number, as: RunAs = {}): ChildProcessWithoutNullStreams {
  const ids = { ...(as.uid === undefined ? {} : { uid: as.uid }), ...(as.gid === undefined ? {} : { gid: as.gid }) };
  if (as.prefix?.length) {
    const [command, ...rest] = as.prefix;
    return spawn(command as string, [...rest, process.execPath, BIN, ...args], { env, timeout: timeoutMs, ...ids });
  }
  if (as.umask === undefined) return spawn(process.execPath, [BIN, ...args], { env, timeout: timeoutMs, ...ids });
  return spawn('/bin/sh', ['-c', `umask ${as.umask} && exec "$@"`, 'sh', process.execPath, BIN, ...args], { env, timeout: timeoutMs, ...ids });
}

/** Runs `moltbot ...args` to completion (bounded by `timeoutMs`). */
export function runCli(args: string[], env: Record<string, string>, timeoutMs = 20_000, as: RunAs = {}): Promise<Finished> {
  return finished(spawnCli(args, env, timeoutMs, as));
}

export function finished(child: ChildProcessWithoutNullStreams): Promise<Finished> {
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
}

/** The longest a gateway started by a test may live. */
const GATEWAY_LIFETIME_MS = 10 * 60_000;

export interface RunningGateway {
  child: ChildProcessWithoutNullStreams;
  url: string;
  done: Promise<Finished>;
}

/** Starts `moltbot gateway ...args` and resolves once it prints its `listening on` line. */
export function startCliGateway(args: string[], env: Record<string, string>, as: RunAs = {}): Promise<RunningGateway> {
  // A gateway serves a whole describe block, which on a loaded machine outlasts a minute
  // (a 60 s bound killed it mid-suite: ECONNREFUSED in the next test); ten minutes still
  // bounds a gateway a crashed test run forgot.
  const child = spawnCli(['gateway', ...args], env, GATEWAY_LIFETIME_MS, as);
  const done = finished(child);
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      const match = /^listening on (http:\/\/\S+)$/u.exec(line);
      if (match?.[1]) resolve({ child, url: match[1], done });
    });
    void done.then((result) => reject(new Error(`gateway exited before listening: ${JSON.stringify(result)}`)));
  });
}
