/**
 * asyncapi.yaml is a valid AsyncAPI 3.0 document (the parser `npm run lint` runs finds no
 * error or warning, and does find a broken one), every method it lists has its scope,
 * params and result, and the hello-ok `server.version` is package.json's version.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { Parser } from '@asyncapi/parser';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { wsMethodNames, wsMethodScopes } from '../../generated/ws/methods.js';
import { GATEWAY_VERSION } from '../../src/version.js';

const run = promisify(execFile);
const root = new URL('../..', import.meta.url).pathname;
const text = readFileSync(new URL('../../asyncapi.yaml', import.meta.url), 'utf8');

describe('asyncapi.yaml', () => {
  it('passes the AsyncAPI parser with no error or warning (scripts/lint-asyncapi.mjs)', { timeout: 90_000 }, async () => {
    const { stdout } = await run(process.execPath, ['scripts/lint-asyncapi.mjs'], { cwd: root });
    expect(stdout).toMatch(/asyncapi\.yaml: valid AsyncAPI 3\.0\.0 \(\d+ operations\)/u);
  });

  it('the parser refuses a broken document (an operation without its channel)', { timeout: 90_000 }, async () => {
    const doc = parse(text) as { operations: Record<string, Record<string, unknown>> };
    delete doc.operations.health?.channel;
    const { diagnostics } = await new Parser().parse(stringify(doc));
    expect(diagnostics.some((d) => d.severity === 0)).toBe(true);
  });

  it('lists the 14 methods of the issue, each with a scope', () => {
    expect([...wsMethodNames].sort()).toEqual(
      ['agent', 'agent.identity.get', 'agent.wait', 'agents.list', 'chat.abort', 'chat.history', 'chat.send', 'health', 'models.list', 'sessions.delete', 'sessions.list', 'sessions.preview', 'sessions.reset', 'status'].sort(),
    );
    expect(Object.keys(wsMethodScopes).sort()).toEqual([...wsMethodNames].sort());
  });

  it('the gateway reports package.json version', () => {
    expect(GATEWAY_VERSION).toBe((JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version);
  });
});
