/**
 * The gateway's stderr log lines are batched for up to 10 ms (src/observability/logger.ts):
 * a process that ends meanwhile, by `process.exit` or an uncaught exception, must still
 * write them. Run in a child process on the built module (`dist/`), as the command runs it.
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const LOGGER = new URL('../../dist/src/observability/logger.js', import.meta.url).href;

/** Runs `ending` right after logging 200 lines (in one batch) and returns the exit code and stderr. */
function logThen(ending: string): Promise<{ code: number | null; stderr: string }> {
  const code = `const { createLogger } = await import(${JSON.stringify(LOGGER)});
const logger = createLogger({ level: 'info' });
for (let i = 0; i < 200; i += 1) logger.info({ n: i }, 'line');
${ending}`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], { timeout: 20_000 });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.on('close', (exit) => resolve({ code: exit, stderr })));
}

/** The `n` of each JSON log line in `stderr`. */
const loggedLines = (stderr: string): number[] =>
  stderr
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => (JSON.parse(line) as { n: number }).n);

const all = Array.from({ length: 200 }, (_, i) => i);

describe('batched log lines are written when the process ends before the batch is due', () => {
  it('process.exit right after logging: every line is on stderr', async () => {
    const { code, stderr } = await logThen('process.exit(3);');
    expect(code).toBe(3);
    expect(loggedLines(stderr)).toEqual(all);
  });

  it('an uncaught exception right after logging: every line, then the error', async () => {
    const { code, stderr } = await logThen("throw new Error('boom after logging');");
    expect(code).toBe(1);
    expect(loggedLines(stderr)).toEqual(all);
    expect(stderr).toContain('boom after logging');
  });

  it('a clean end of the script (nothing keeps the loop alive): every line', async () => {
    const { code, stderr } = await logThen('');
    expect(code).toBe(0);
    expect(loggedLines(stderr)).toEqual(all);
  });
});
