/**
 * Runs Stoplight Prism (the local `node_modules/.bin/prism`) on openapi.yaml as a child
 * process on 127.0.0.1: a mock of the spec, or a validating proxy in front of a real
 * server. Prism cannot listen on port 0, so a free port is picked first; readiness is
 * Prism's own "Prism is listening on <url>" line, bounded in time.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PRISM = fileURLToPath(new URL('../../node_modules/.bin/prism', import.meta.url));
const SPEC = fileURLToPath(new URL('../../openapi.yaml', import.meta.url));
const STARTUP_TIMEOUT_MS = 30_000;
/** Prism logs every request at length; keep only the tail for failure messages. */
const MAX_OUTPUT_CHARS = 200_000;

export interface PrismServer {
  /** Base URL, e.g. `http://127.0.0.1:40123`. */
  url: string;
  /** Prism's captured stdout and stderr (the last part of it). */
  output(): string;
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', resolve);
  });
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

async function startOnce(args: (port: number) => string[]): Promise<PrismServer & { addressInUse: boolean }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(PRISM, args(port), {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
  });
  let output = '';
  const capture = (chunk: Buffer): void => {
    output += chunk.toString('utf8');
    if (output.length > MAX_OUTPUT_CHARS) output = output.slice(-MAX_OUTPUT_CHARS);
  };
  child.stdout?.on('data', capture);
  child.stderr?.on('data', capture);
  const server = { url, output: () => output, close: () => stop(child) };

  const listening = `Prism is listening on ${url}`;
  const outcome = await new Promise<'ready' | 'exited' | 'timeout' | 'error'>((resolve) => {
    const timer = setTimeout(() => finish('timeout'), STARTUP_TIMEOUT_MS);
    const onData = (): void => {
      if (output.includes(listening)) finish('ready');
    };
    const onExit = (): void => finish('exited');
    const onError = (err: Error): void => {
      output += `\nspawn error: ${err.message}`;
      finish('error');
    };
    function finish(result: 'ready' | 'exited' | 'timeout' | 'error'): void {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onData);
      child.off('exit', onExit);
      child.off('error', onError);
      resolve(result);
    }
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
    child.once('error', onError);
  });
  if (outcome === 'ready') return { ...server, addressInUse: false };
  await stop(child);
  if (outcome === 'exited' && /EADDRINUSE/u.test(output)) return { ...server, addressInUse: true };
  throw new Error(`prism ${args(port).join(' ')} did not start (${outcome}). Its output:\n${output}`);
}

/** Starts Prism; retries on a fresh port if another process took the probed one. */
async function startPrism(args: (port: number) => string[]): Promise<PrismServer> {
  for (let attempt = 1; ; attempt++) {
    const { addressInUse, ...server } = await startOnce(args);
    if (!addressInUse) return server;
    if (attempt === 3) throw new Error(`prism could not bind a free port. Its output:\n${server.output()}`);
  }
}

/** `prism mock openapi.yaml`: answers from the spec's examples, validating requests. */
export function startPrismMock(): Promise<PrismServer> {
  return startPrism((port) => ['mock', SPEC, '-h', '127.0.0.1', '-p', String(port)]);
}

/**
 * `prism proxy openapi.yaml <upstream> --errors`: forwards valid requests to `upstreamUrl`
 * and turns any response that breaks the spec into a 500 `application/problem+json`.
 */
export function startPrismProxy(upstreamUrl: string): Promise<PrismServer> {
  return startPrism((port) => ['proxy', SPEC, upstreamUrl, '--errors', '-h', '127.0.0.1', '-p', String(port)]);
}
