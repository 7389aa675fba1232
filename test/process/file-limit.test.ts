/**
 * Out of file descriptors, a gateway must say so, not fail silently or crash. A gateway
 * process started under a low open-file limit (`ulimit -n`) warns at start-up that the
 * run limits could need more, keeps client connections below the limit, refuses the
 * connections past it with a log line naming the limit and how to raise it, and serves
 * again once clients leave. Also the arithmetic of the budget and the /proc parsing.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { RESERVED_FILES, fileBudget, openFileLimit } from '../../src/gateway/file-limit.js';
import { BIN, cleanEnv, writeConfig } from '../helpers/cli.js';
import { PROCESS_TOKEN, waitForLine, within } from '../helpers/process-gateway.js';

const FILE_LIMIT = 160;

let child: ChildProcessWithoutNullStreams | undefined;
const sockets: Socket[] = [];
afterEach(() => {
  for (const socket of sockets.splice(0)) socket.destroy();
  child?.kill('SIGKILL');
  child = undefined;
});

describe('open-file budget', () => {
  it('reads the soft limit from /proc/self/limits', () => {
    const text = 'Limit                     Soft Limit           Hard Limit           Units\nMax open files            1024                 524288               files\n';
    expect(openFileLimit(text)).toBe(1024);
    expect(openFileLimit('Max open files            unlimited            unlimited            files\n')).toBeUndefined();
    if (process.platform === 'linux') expect(openFileLimit()).toBeGreaterThan(0);
  });

  it('keeps room for the reserve and one upstream connection per running turn, at most half of what is left', () => {
    // The defaults under a common hard limit: everything fits.
    expect(fileBudget(1_048_576, { maxConcurrent: 2048, maxQueued: 2048 })).toEqual({ needed: 2 * 2048 + 2048 + RESERVED_FILES, maxConnections: 1_048_576 - RESERVED_FILES - 2048 });
    // A low limit: clients get half of what is left after the reserve.
    expect(fileBudget(1024, { maxConcurrent: 2048, maxQueued: 2048 }).maxConnections).toBe((1024 - RESERVED_FILES) / 2);
    expect(fileBudget(10, { maxConcurrent: 4, maxQueued: 0 }).maxConnections).toBe(1);
  });
});

describe('a gateway under a low open-file limit', () => {
  it('warns at start-up, refuses connections past its budget with a log line, and serves again once clients leave', { timeout: 30_000 }, async () => {
    const config = writeConfig(`{ gateway: { http: { endpoints: { chatCompletions: { enabled: true } } } } }`);
    // `ulimit -n` lowers both the soft and the hard limit: Node cannot raise it back.
    child = spawn('sh', ['-c', `ulimit -n ${FILE_LIMIT} && exec "$0" "$@"`, process.execPath, BIN, 'gateway', '--port', '0', '--config', config], {
      env: cleanEnv({ CLAWDBOT_GATEWAY_TOKEN: PROCESS_TOKEN }),
    });
    const warning = waitForLine(child.stderr, /the open-file limit is below/u);
    const url = /^listening on (\S+)$/u.exec(await within(waitForLine(child.stdout, /^listening on /u), 20_000, 'listening'))?.[1] as string;
    const started = JSON.parse(await within(warning, 10_000, 'the start-up warning')) as Record<string, unknown>;
    const { maxConnections } = fileBudget(FILE_LIMIT, { maxConcurrent: 2048, maxQueued: 2048 });
    expect(started).toMatchObject({ level: 'warn', openFileLimit: FILE_LIMIT, needed: 6208, maxConcurrent: 2048, maxQueued: 2048, maxConnections });
    expect(started.hint).toMatch(/ulimit -n/u);

    // Idle connections count as much as busy ones. Those past the budget are closed at once.
    const refusedLine = waitForLine(child.stderr, /connections refused/u);
    const { port } = new URL(url);
    const closed = new Set<Socket>();
    let allClosed!: () => void;
    const extraClosed = new Promise<void>((resolve) => {
      allClosed = resolve;
    });
    const extra = 10;
    for (let i = 0; i < maxConnections + extra; i += 1) {
      const socket = connect({ host: '127.0.0.1', port: Number(port) });
      socket.on('error', () => undefined);
      socket.on('close', () => {
        closed.add(socket);
        if (closed.size === extra) allClosed();
      });
      sockets.push(socket);
    }
    await within(extraClosed, 10_000, `${extra} connections past the budget being closed`);
    const refused = JSON.parse(await within(refusedLine, 10_000, 'the refusal log line')) as Record<string, unknown>;
    expect(refused).toMatchObject({ level: 'warn', maxConnections, openFileLimit: FILE_LIMIT });
    expect(refused.hint).toMatch(/ulimit -n/u);

    // Still serving on an accepted connection…
    const kept = sockets.find((socket) => !closed.has(socket)) as Socket;
    const answer = new Promise<string>((resolve) => kept.once('data', (data: Buffer) => resolve(data.toString('latin1'))));
    kept.write('GET /healthz HTTP/1.1\r\nhost: localhost\r\n\r\n');
    expect(await within(answer, 10_000, 'a /healthz answer')).toMatch(/^HTTP\/1\.1 200 /u);
    // …and on new ones once the clients leave (the server may see the closes a moment
    // after a new connection arrives: each refused attempt is followed by another).
    for (const socket of sockets.splice(0)) socket.destroy();
    let health: Response | undefined;
    for (let attempt = 0; attempt < 100 && !health; attempt += 1) health = await fetch(`${url}/healthz`).catch(() => undefined);
    expect(health?.status).toBe(200);
    expect(child.exitCode).toBeNull();
  });
});
