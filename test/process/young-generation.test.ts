/**
 * What a turn's store write leaves for the old generation. On Node 20's V8 an object
 * literal that starts with a spread and adds properties after it is promoted out of the
 * young generation with everything it references, however briefly it lives
 * (docs/decisions/0020-no-leading-spreads.md); the SQLite store built its statement
 * parameters that way, and every JSON turn's input, reply and usage strings were then
 * promoted (~1.3 kB a turn), lengthening every scavenge and growing the old space.
 * Measured in a child process under `--trace-gc-nvp` (V8's own count of promoted bytes),
 * on the built store (`dist/`), with turns written one after another as a JSON turn
 * writes them (start and end in one write).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const STORE = new URL('../../dist/src/sessions/sqlite-store.js', import.meta.url).href;
const TURNS = 15_000;

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** Writes `TURNS` whole turns through the store in a child; returns V8's scavenge lines. */
function writeTurns(): Promise<{ code: number | null; scavenges: string[]; stderr: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'moltbot-young-'));
  dirs.push(dir);
  const code = `const { openSqliteStore } = await import(${JSON.stringify(STORE)});
const { randomUUID } = await import('node:crypto');
const store = openSqliteStore(${JSON.stringify(join(dir, 'sessions.sqlite'))}, { backgroundCheckpoints: true });
for (let i = 0; i < ${TURNS}; i += 1) {
  const write = store.beginTurn({
    session: { id: randomUUID(), key: 'agent:main:' + randomUUID(), agentId: 'main', kind: 'stateless' },
    newTranscript: true,
    expected: { sessionId: undefined, turns: 0, lastStatus: null },
    input: [{ role: 'user', content: 'Hello there, how are you today? ' + i }],
    startedAt: Date.now(),
  });
  await write.finish({ status: 'ok', reply: { role: 'assistant', content: 'Hello there, how are you today? ' + i }, finishReason: 'stop', usage: { promptTokens: 9, completionTokens: 7, totalTokens: 16 }, endedAt: Date.now() });
}
await store.close();`;
  const child = spawn(process.execPath, ['--trace-gc-nvp', '--input-type=module', '-e', code], { timeout: 120_000 });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.on('close', (exit) => resolve({ code: exit, scavenges: stdout.split('\n').filter((line) => line.includes('gc=s ')), stderr })));
}

const field = (line: string, name: string): number => Number(new RegExp(`\\b${name}=(\\d+)`, 'u').exec(line)?.[1] ?? NaN);

describe('the young generation', () => {
  it('a whole turn written to the SQLite store promotes next to nothing of it (< 400 bytes a turn; ~1.3 kB with spread-built parameters)', async () => {
    const { code, scavenges, stderr } = await writeTurns();
    expect(stderr).toBe('');
    expect(code).toBe(0);
    // Enough scavenges for the figure to mean something (each turn allocates kilobytes).
    expect(scavenges.length).toBeGreaterThanOrEqual(10);
    const promoted = scavenges.reduce((sum, line) => sum + field(line, 'promoted'), 0);
    expect(Number.isFinite(promoted)).toBe(true);
    expect(promoted / TURNS).toBeLessThan(400);
  });
});
