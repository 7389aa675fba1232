import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = new URL('../..', import.meta.url).pathname;

describe('openapi.yaml', () => {
  it('passes redocly lint', async () => {
    const { stdout, stderr } = await run('node_modules/.bin/redocly', ['lint', 'openapi.yaml', '--format', 'stylish'], { cwd: root });
    expect(`${stdout}${stderr}`).toMatch(/valid/u);
  });

  it('matches the committed generated/ (npm run generate leaves no diff)', async () => {
    const result = await run(process.execPath, ['scripts/check-generated.mjs'], { cwd: root }).catch((err: { stdout: string; stderr: string; code: number }) => err);
    expect('code' in result ? result.code : 0, `${result.stdout}${result.stderr}`).toBe(0);
    expect(result.stdout).toMatch(/generated\/ is up to date/u);
  });
});
