/**
 * src/sessions/instance-lock-files.ts: an instance is alive exactly while its process
 * holds its lock file; the OS releases the lock when the process dies (SIGKILL too), so
 * death is seen at once, with no PID and no lease timeout. The process side runs the
 * built module (`dist/`) in a child process.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { holdInstanceLock } from '../../src/sessions/instance-lock-files.js';
import type { InstanceLiveness } from '../../src/sessions/instance-liveness.js';

const MODULE = new URL('../../dist/src/sessions/instance-lock-files.js', import.meta.url).href;
const STORE_MODULE = new URL('../../dist/src/sessions/sqlite-store.js', import.meta.url).href;
const mode = (path: string): string => (statSync(path).mode & 0o777).toString(8);

const held: InstanceLiveness[] = [];
const children: ChildProcessWithoutNullStreams[] = [];
afterEach(() => {
  for (const lock of held.splice(0)) lock.close();
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

function hold(dir: string): InstanceLiveness {
  const lock = holdInstanceLock(dir);
  held.push(lock);
  return lock;
}

/** A child process holding an instance lock in `dir`; resolves with its id once held. */
async function childHolding(dir: string): Promise<{ child: ChildProcessWithoutNullStreams; id: string; exited: Promise<unknown> }> {
  // The lock is kept referenced: a connection the GC collects is closed, and its lock released with it.
  const code = `const { holdInstanceLock } = await import(${JSON.stringify(MODULE)}); globalThis.held = holdInstanceLock(${JSON.stringify(dir)}); console.log(globalThis.held.self); setInterval(() => {}, 1 << 30);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], { timeout: 30_000 });
  children.push(child);
  const exited = new Promise((resolve) => child.on('exit', resolve));
  const id = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve);
    void exited.then(() => reject(new Error('the child exited before holding its lock')));
  });
  return { child, id, exited };
}

describe('instance lock files', () => {
  it('a lock file per instance, 0600 in a 0700 directory; alive while held, dead and removed once released', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'moltbot-instances-')), 'instances');
    const first = hold(dir);
    const second = hold(dir);
    expect(first.self).not.toBe(second.self);
    expect(mode(dir)).toBe('700');
    expect(readdirSync(dir).sort()).toEqual([`${first.self}.lock`, `${second.self}.lock`].sort());
    for (const name of readdirSync(dir)) expect(mode(join(dir, name))).toBe('600');
    expect(second.instanceAlive(first.self)).toBe(true);
    expect(first.instanceAlive(second.self)).toBe(true);
    expect(first.instanceAlive(first.self)).toBe(true);

    first.close();
    expect(second.instanceAlive(first.self)).toBe(false);
    expect(readdirSync(dir)).toEqual([`${second.self}.lock`]);
    // Unknown, or not an instance id at all (never looked up as a path).
    expect(second.instanceAlive('7d1f2c1e-0000-4000-8000-000000000000')).toBe(false);
    expect(second.instanceAlive('../../etc/passwd')).toBe(false);
  });

  it('an instance whose process is SIGKILLed is dead as soon as the process has exited; its file is cleared', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'moltbot-instances-')), 'instances');
    const observer = hold(dir);
    const { child, id, exited } = await childHolding(dir);
    expect(observer.instanceAlive(id)).toBe(true);
    expect(observer.instanceAlive(id)).toBe(true);
    child.kill('SIGKILL');
    await exited;
    expect(observer.instanceAlive(id)).toBe(false);
    expect(existsSync(join(dir, `${id}.lock`))).toBe(false);
  });

  it("a new instance clears the files of dead instances and keeps the live ones'", async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'moltbot-instances-')), 'instances');
    const killed = await childHolding(dir);
    const living = await childHolding(dir);
    killed.child.kill('SIGKILL');
    await killed.exited;
    expect(readdirSync(dir)).toHaveLength(2);
    const fresh = hold(dir);
    expect(readdirSync(dir).sort()).toEqual([`${living.id}.lock`, `${fresh.self}.lock`].sort());
    expect(fresh.instanceAlive(living.id)).toBe(true);
  });

  it('processes opening and closing stores in one state dir at once never fail on each other\'s lock files', async () => {
    // Each open probes the other instances' files while they are being closed and removed
    // (or removed by a third process that found them dead): a probe of a file removed under
    // it once failed the open with SQLITE_IOERR_FSTAT ("disk I/O error", ~4% of opens here).
    const path = join(mkdtempSync(join(tmpdir(), 'moltbot-instances-')), 'sessions.sqlite');
    const code = `const { openSqliteStore } = await import(${JSON.stringify(STORE_MODULE)});
      const failures = [];
      for (let i = 0; i < 40; i += 1) {
        try { const store = openSqliteStore(${JSON.stringify(path)}); await store.listSessions(); await store.close(); }
        catch (err) { failures.push(String(err.code ?? err.message)); }
      }
      console.log(JSON.stringify(failures));`;
    const runs = Array.from({ length: 6 }, async () => {
      const child = spawn(process.execPath, ['--input-type=module', '-e', code], { timeout: 60_000 });
      children.push(child);
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      const exitCode = await new Promise((resolve) => child.on('exit', resolve));
      return { exitCode, failures: JSON.parse(out || '["no output"]') as string[] };
    });
    expect(await Promise.all(runs)).toEqual(Array.from({ length: 6 }, () => ({ exitCode: 0, failures: [] })));
  });
});
