import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = new URL('../..', import.meta.url).pathname;

/** A tool's exit code and everything it printed. */
async function lint(command: string, args: string[]): Promise<{ code: number; output: string }> {
  const result = await run(command, args, { cwd: root }).catch((err: { stdout: string; stderr: string; code: number }) => err);
  return { code: 'code' in result && typeof result.code === 'number' ? result.code : 0, output: `${result.stdout}${result.stderr}` };
}

describe('openapi.yaml', () => {
  it('passes redocly lint (recommended, no rule switched off) without a warning', async () => {
    const { code, output } = await lint('node_modules/.bin/redocly', ['lint', 'openapi.yaml', '--format', 'stylish']);
    expect(code, output).toBe(0);
    expect(output).toMatch(/Your API description is valid/u);
    expect(output).not.toMatch(/\d+ warnings?\b|\d+ errors?\b/u);
  });

  it("passes Spectral's spectral:oas ruleset with no result at any severity", async () => {
    const { code, output } = await lint('node_modules/.bin/spectral', ['lint', 'openapi.yaml', '--ruleset', '.spectral.yaml', '--fail-severity=hint']);
    expect(code, output).toBe(0);
    expect(output).toMatch(/No results with a severity of 'hint' or higher found/u);
  });

  it('matches the committed generated/ (npm run generate leaves no diff)', async () => {
    const result = await run(process.execPath, ['scripts/check-generated.mjs'], { cwd: root }).catch((err: { stdout: string; stderr: string; code: number }) => err);
    expect('code' in result ? result.code : 0, `${result.stdout}${result.stderr}`).toBe(0);
    expect(result.stdout).toMatch(/generated\/ is up to date/u);
  });
});
