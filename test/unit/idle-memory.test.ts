/**
 * src/gateway/idle-memory.ts: after a burst of requests, and only once the server is idle
 * (no request arrived in a whole period, none open), two full collections, then nothing
 * until the next burst. The period's timer is faked; the requests are real HTTP.
 */
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { fullCollection, releaseMemoryWhenIdle } from '../../src/gateway/idle-memory.js';

const PERIOD = 1000;
let server: Server | undefined;

afterEach(async () => {
  vi.useRealTimers();
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

/** A server whose `/hold` requests stay open until `release()`. */
async function start(): Promise<{ port: number; release: () => void }> {
  const held: (() => void)[] = [];
  server = createServer((req, res) => {
    if (req.url === '/hold') {
      res.writeHead(200).write('open');
      held.push(() => res.end());
      return;
    }
    res.end('ok');
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, release: () => held.splice(0).forEach((end) => end()) };
}

function get(port: number, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    request({ hostname: '127.0.0.1', port, path, agent: false }, (res) => {
      res.once('data', () => resolve());
      res.resume();
    })
      .on('error', reject)
      .end();
  });
}

describe('releasing memory when idle', () => {
  it('collects twice after a burst once idle, then not until the next burst; an open request is not idle', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const { port, release } = await start();
    const collect = vi.fn();
    const idle = releaseMemoryWhenIdle(server as Server, { collect, everyMs: PERIOD });

    vi.advanceTimersByTime(PERIOD * 3);
    expect(collect).not.toHaveBeenCalled(); // Never busy: nothing to give back.

    await get(port, '/a');
    vi.advanceTimersByTime(PERIOD); // The busy period.
    expect(collect).not.toHaveBeenCalled();
    vi.advanceTimersByTime(PERIOD);
    expect(collect).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(PERIOD * 5);
    expect(collect).toHaveBeenCalledTimes(2);

    // A stream still open keeps the server busy, however long it lasts.
    await get(port, '/hold');
    vi.advanceTimersByTime(PERIOD * 5);
    expect(collect).toHaveBeenCalledTimes(2);
    release();
    await vi.waitFor(() => {
      vi.advanceTimersByTime(PERIOD);
      expect(collect).toHaveBeenCalledTimes(3);
    });
    idle.stop();
    vi.advanceTimersByTime(PERIOD * 5);
    expect(collect).toHaveBeenCalledTimes(3);
  });

  it('fullCollection gives a working gc() without exposing it on the global object', () => {
    const gc = fullCollection();
    expect(typeof gc).toBe('function');
    expect(() => gc()).not.toThrow();
    expect((globalThis as { gc?: unknown }).gc).toBeUndefined();
  });
});
