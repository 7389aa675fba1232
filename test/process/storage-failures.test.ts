/**
 * Disk and permission failures, on real processes and real file systems: a full disk
 * answers 507 `storage_full` (OpenAI's shape, a message that says so) while reads keep
 * being served, and the same process recovers once space returns; start-up on a
 * read-only or unwritable state dir exits 2 with a message naming the path and the
 * problem. Tests run as root: "unwritable" runs the gateway as root without the
 * capabilities that bypass file permissions (setpriv), on paths owned by `nobody` (running
 * it as `nobody` would need the checkout to be readable by everyone); "read-only" and
 * "full" use small tmpfs mounts (skipped, saying why, where mounting is not allowed).
 */
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, startCliGateway, type RunAs, type RunningGateway } from '../helpers/cli.js';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { PROCESS_TOKEN, assistant, chat, processEnv, showSession, upstreamConfig, user } from '../helpers/process-gateway.js';
import { readCompletion, readError } from '../helpers/read.js';
import { fillUp, mountTmpfs, type Tmpfs } from '../helpers/tmpfs.js';

const NOBODY = { uid: 65534, gid: 65534 };
/** The gateway as root that file permissions bind: what an unprivileged owner-less user meets. */
const BOUND_BY_MODES: RunAs = { prefix: ['setpriv', '--bounding-set', '-dac_override,-dac_read_search,-fowner'] };
/** Dropping capabilities and chown need root (CI runs as root). */
const notRoot = process.getuid?.() !== 0 ? 'these tests chown to nobody and drop root capabilities, which needs root' : undefined;

let upstream: FakeUpstream | undefined;
let gateway: RunningGateway | undefined;
const mounts: Tmpfs[] = [];
afterEach(async () => {
  gateway?.child.kill('SIGKILL');
  if (gateway) await gateway.done;
  gateway = undefined;
  await upstream?.close();
  upstream = undefined;
  for (const mount of mounts.splice(0)) mount.unmount();
});

/** Skips the test, saying why in the test output too (not only in the reporter's summary). */
function loudSkip(skip: (note?: string) => void, reason: string): void {
  console.warn(`SKIPPED (storage-failures): ${reason}`);
  skip(reason);
}

/** A config file any user can read (the usual temp dirs are root's 0700). */
function worldReadableConfig(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'moltbot-cfg-'));
  chmodSync(dir, 0o755);
  const path = join(dir, 'moltbot.json5');
  writeFileSync(path, text, { mode: 0o644 });
  return path;
}

const ECHO_CONFIG = `{ gateway: { http: { endpoints: { chatCompletions: { enabled: true } } } } }`;

/** Runs `moltbot gateway` expecting it to refuse to start. */
async function refusedStart(stateDir: string, as: RunAs = {}): Promise<{ code: number | null; stderr: string; stdout: string }> {
  const { env } = processEnv();
  const result = await runCli(['gateway', '--port', '0', '--config', worldReadableConfig(ECHO_CONFIG)], { ...env, MOLTBOT_STATE_DIR: stateDir }, 20_000, as);
  expect(result.stdout).not.toMatch(/listening/u);
  return result;
}

describe('start-up on a state dir it cannot write', () => {
  it('as a user who may not create the state dir: exit 2, naming the directory and "permission denied"', async ({ skip }) => {
    if (notRoot) return loudSkip(skip, notRoot);
    const parent = mkdtempSync(join(tmpdir(), 'moltbot-othersonly-'));
    chownSync(parent, NOBODY.uid, NOBODY.gid);
    chmodSync(parent, 0o755);
    const stateDir = join(parent, 'state');
    const result = await refusedStart(stateDir, BOUND_BY_MODES);
    expect(result.code, JSON.stringify(result)).toBe(2);
    expect(result.stderr).toBe(`moltbot: session store: cannot create the directory ${stateDir}: permission denied (EACCES). ${HINT}\n`);
  });

  it('as a user who may not write into an existing state dir: exit 2, naming it', async ({ skip }) => {
    if (notRoot) return loudSkip(skip, notRoot);
    const stateDir = mkdtempSync(join(tmpdir(), 'moltbot-othersonly-'));
    // nobody's, private: the gateway may neither read nor write it.
    chownSync(stateDir, NOBODY.uid, NOBODY.gid);
    chmodSync(stateDir, 0o700);
    const result = await refusedStart(stateDir, BOUND_BY_MODES);
    expect(result.code, JSON.stringify(result)).toBe(2);
    expect(result.stderr).toBe(`moltbot: session store: cannot write into the directory ${stateDir}: permission denied (EACCES). ${HINT}\n`);
  });

  it('an existing store file owned by another user: exit 2 naming the file', async ({ skip }) => {
    if (notRoot) return loudSkip(skip, notRoot);
    const stateDir = mkdtempSync(join(tmpdir(), 'moltbot-owned-'));
    chmodSync(stateDir, 0o700);
    const file = join(stateDir, 'sessions.sqlite');
    writeFileSync(file, '', { mode: 0o600 });
    chownSync(file, NOBODY.uid, NOBODY.gid);
    const result = await refusedStart(stateDir, BOUND_BY_MODES);
    expect(result.code, JSON.stringify(result)).toBe(2);
    expect(result.stderr).toBe(`moltbot: session store: cannot open for writing ${file}: permission denied (EACCES). ${HINT}\n`);
  });

  it('on a read-only file system (new state dir, and an existing store remounted read-only): exit 2, "read-only"', async ({ skip }) => {
    const mount = mountTmpfs('4m');
    if ('cannot' in mount) return loudSkip(skip, mount.cannot);
    mounts.push(mount);
    // A store made while the file system was writable, then the file system turned read-only.
    const { env } = processEnv();
    const existing = join(mount.dir, 'existing');
    const made = await runCli(['agent', '--message', 'before read-only'], { ...env, MOLTBOT_STATE_DIR: existing });
    expect(made, JSON.stringify(made)).toMatchObject({ code: 0, stderr: '' });
    mount.remount('ro');

    const fresh = join(mount.dir, 'fresh');
    const [created, reopened] = await Promise.all([refusedStart(fresh), refusedStart(existing)]);
    expect(created.code, JSON.stringify(created)).toBe(2);
    expect(created.stderr).toBe(`moltbot: session store: cannot create the directory ${fresh}: the file system is read-only (EROFS). ${HINT}\n`);
    expect(reopened.code, JSON.stringify(reopened)).toBe(2);
    expect(reopened.stderr).toBe(`moltbot: session store: cannot write into the directory ${existing}: the file system is read-only (EROFS). ${HINT}\n`);
  });
});

const HINT = 'The state directory must be writable by the user running moltbot: fix its permissions or choose another one (MOLTBOT_STATE_DIR).';

describe('a full disk under a running gateway', () => {
  it('answers 507 storage_full (JSON and stream), keeps serving reads, and recovers in the same process once space returns', async ({ skip }) => {
    const mount = mountTmpfs('8m');
    if ('cannot' in mount) return loudSkip(skip, mount.cannot);
    mounts.push(mount);
    upstream = await startFakeUpstream();
    upstream.behave({ kind: 'reply', deltas: ['noted'] });
    const { env } = processEnv();
    const stateDir = join(mount.dir, 'state');
    mkdirSync(stateDir);
    const runEnv = { ...env, MOLTBOT_STATE_DIR: stateDir };
    const config = upstreamConfig(upstream.baseUrl);
    gateway = await startCliGateway(['--port', '0', '--config', config], runEnv);
    const url = gateway.url;
    const key = 'agent:main:disk';
    const turn = (content: string, stream = false): Promise<Response> =>
      chat(url, { model: 'moltbot', messages: [user(content)], ...(stream ? { stream: true } : {}) }, { 'x-moltbot-session-key': key });
    // Enough text that recording it needs new pages, not only room left in the WAL.
    const big = (label: string): string => `${label} ${'x'.repeat(256 * 1024)}`;

    expect((await readCompletion(await turn('before the disk fills'))).choices[0]?.message.content).toBe('noted');
    const filler = join(mount.dir, 'filler');
    expect(fillUp(filler)).toBeGreaterThan(1 << 20);

    for (const stream of [false, true]) {
      const error = await readError(await turn(big(stream ? 'streamed' : 'json'), stream), 507);
      expect(error).toEqual({
        message: "The gateway's session storage is full, so this turn could not be recorded and no reply is returned. Retry once space has been freed.",
        type: 'server_error',
        param: null,
        code: 'storage_full',
      });
    }
    // Reads are served: health, models, and the transcript through the CLI.
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    const models = await fetch(`${url}/v1/models`, { headers: { authorization: `Bearer ${PROCESS_TOKEN}` } });
    expect(models.status).toBe(200);
    expect(((await models.json()) as { data: unknown[] }).data.length).toBeGreaterThan(0);

    // Space returns: the same process records the next turn, with the first as history.
    rmSync(filler);
    const after = await turn(big('after space returns'));
    expect((await readCompletion(after)).choices[0]?.message.content).toBe('noted');
    expect(upstream.requests.at(-1)?.body.messages).toEqual([user('before the disk fills'), assistant('noted'), user(big('after space returns'))]);
    const [session] = await showSession(key, runEnv, config);
    // The two refused turns left nothing behind.
    expect(session?.turns.map((t) => [t.seq, t.status, (t.input[0]?.content as string).slice(0, 20)])).toEqual([
      [1, 'ok', 'before the disk fill'],
      [2, 'ok', 'after space returns '],
    ]);
    expect(gateway.child.exitCode).toBeNull();
  });
});
