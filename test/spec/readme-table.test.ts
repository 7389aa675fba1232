import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const run = promisify(execFile);
const root = new URL('../..', import.meta.url).pathname;
const scriptUrl = new URL('../../scripts/readme-api-table.mjs', import.meta.url).href;

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The spec, parsed here independently of the script. */
const spec = parse(readFileSync(new URL('../../openapi.yaml', import.meta.url), 'utf8')) as Json;

/** Resolve a local `$ref` chain (`#/components/...`). */
function deref(node: unknown): Json {
  let current = node;
  for (let hops = 0; isObject(current) && typeof current.$ref === 'string'; hops += 1) {
    if (hops > 32) throw new Error(`$ref loop at ${current.$ref}`);
    let target: unknown = spec;
    for (const key of current.$ref.replace(/^#\//u, '').split('/')) {
      target = isObject(target) ? target[key.replace(/~1/gu, '/').replace(/~0/gu, '~')] : undefined;
    }
    current = target;
  }
  if (!isObject(current)) throw new Error('unresolvable node');
  return current;
}

/** Top-level property names of a schema, allOf members included. */
function propertyNames(schema: unknown): string[] {
  const resolved = deref(schema);
  const own = isObject(resolved.properties) ? Object.keys(resolved.properties) : [];
  const inherited = Array.isArray(resolved.allOf) ? resolved.allOf.flatMap(propertyNames) : [];
  return [...inherited, ...own];
}

/** Every operation as [path item, operation]. */
function operations(): [Json, Json, string, string][] {
  const out: [Json, Json, string, string][] = [];
  for (const [path, rawItem] of Object.entries(deref(spec.paths))) {
    const item = deref(rawItem);
    for (const method of ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']) {
      if (isObject(item[method])) out.push([item, item[method], method, path]);
    }
  }
  return out;
}

function headerParamNames(item: Json, op: Json): string[] {
  const params = [...(Array.isArray(item.parameters) ? item.parameters : []), ...(Array.isArray(op.parameters) ? op.parameters : [])];
  return params.map(deref).filter((p) => p.in === 'header').map((p) => String(p.name));
}

async function rendered(): Promise<string> {
  const mod = (await import(scriptUrl)) as { renderApiReference: (doc: unknown) => string; loadSpec: () => unknown };
  return mod.renderApiReference(mod.loadSpec());
}

/** Whether the rendered text has a table row whose first cell is `name`. */
function hasRow(text: string, name: string): boolean {
  return text.split('\n').some((line) => line.startsWith(`| \`${name}\` |`));
}

describe('README API reference', () => {
  it('is up to date with openapi.yaml (node scripts/readme-api-table.mjs --check)', async () => {
    const result = await run(process.execPath, ['scripts/readme-api-table.mjs', '--check'], { cwd: root }).catch(
      (err: { stdout: string; stderr: string; code: number }) => err,
    );
    expect('code' in result ? result.code : 0, `${result.stdout}${result.stderr}`).toBe(0);
  });

  it('has a row for every request field and header of POST /v1/chat/completions', async () => {
    const text = await rendered();
    const chat = operations().find(([, , method, path]) => method === 'post' && path === '/v1/chat/completions');
    expect(chat).toBeDefined();
    const [item, op] = chat!;

    const schemas = deref(deref(spec.components).schemas);
    const fields = propertyNames(schemas.CreateChatCompletionRequest);
    expect(fields.length).toBeGreaterThan(0);
    const missingFields = fields.filter((name) => !hasRow(text, name));
    expect(missingFields, 'CreateChatCompletionRequest properties missing from the table').toEqual([]);

    const headers = headerParamNames(item, op);
    expect(headers.length).toBeGreaterThan(0);
    expect(headers.filter((name) => !hasRow(text, name)), 'header parameters missing from the table').toEqual([]);
    expect(hasRow(text, 'Authorization')).toBe(true);

    const ok = deref(deref(op.responses)['200']);
    const responseHeaders = isObject(ok.headers) ? Object.keys(ok.headers) : [];
    expect(responseHeaders.filter((name) => !hasRow(text, name)), '200 response headers missing from the table').toEqual([]);
  });

  it('mentions every header parameter any operation in openapi.yaml takes', async () => {
    const text = await rendered();
    const names = [...new Set(operations().flatMap(([item, op]) => headerParamNames(item, op)))];
    expect(names.length).toBeGreaterThan(0);
    expect(names.filter((name) => !text.includes(`\`${name}\``))).toEqual([]);
  });

  it('lists every other operation', async () => {
    const text = await rendered();
    const others = operations().filter(([, , method, path]) => !(method === 'post' && path === '/v1/chat/completions'));
    for (const [, , method, path] of others) {
      expect(text).toContain(`| \`${method.toUpperCase()}\` | \`${path}\` |`);
    }
  });
});
