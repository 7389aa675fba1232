/**
 * The spec's error catalogue holds together: every error response names, in its
 * description, only codes of its own status, and together they name every code; every
 * response of every operation declares the `x-request-id` header (the server sends it
 * with all of them); and the generated `errorCodes` table is the spec's.
 */
import { describe, expect, it } from 'vitest';
import { errorCodes } from '../../generated/error-codes.js';
import { openapiDocument } from '../../generated/openapi-document.js';

type Json = Record<string, unknown>;
const doc = openapiDocument as unknown as Json;
const components = doc.components as Json;
const schemas = components.schemas as Json;
const branches = (schemas.ErrorCode as { oneOf: { const: string; 'x-status': number; 'x-type': string }[] }).oneOf;

/** Every operation's responses, with the component each `$ref`s (if any). */
function responses(): { op: string; status: string; component: string | undefined; response: Json }[] {
  const out: { op: string; status: string; component: string | undefined; response: Json }[] = [];
  for (const [path, item] of Object.entries(doc.paths as Json)) {
    for (const [method, op] of Object.entries(item as Json)) {
      for (const [status, raw] of Object.entries((op as Json).responses as Json)) {
        const ref = (raw as { $ref?: string }).$ref;
        const component = ref?.replace('#/components/responses/', '');
        const response = component ? ((components.responses as Json)[component] as Json) : (raw as Json);
        out.push({ op: `${method.toUpperCase()} ${path}`, status, component, response });
      }
    }
  }
  return out;
}

describe('error codes in openapi.yaml', () => {
  it('each error response names only codes of its status, and every code is named by one', () => {
    const named = new Set<string>();
    const wrong: string[] = [];
    for (const { status, component, response } of responses()) {
      if (!status.startsWith('4') && !status.startsWith('5')) continue;
      const description = String(response.description);
      for (const { const: code, 'x-status': codeStatus } of branches) {
        if (!new RegExp(`\`${code}\``, 'u').test(description)) continue;
        named.add(code);
        if (String(codeStatus) !== status) wrong.push(`${component ?? status} names ${code} (${codeStatus})`);
      }
    }
    expect(wrong).toEqual([]);
    expect(branches.map((b) => b.const).filter((code) => !named.has(code))).toEqual([]);
  });

  it('every status a code comes with is declared by POST /v1/chat/completions', () => {
    const declared = new Set(responses().filter((r) => r.op === 'POST /v1/chat/completions').map((r) => r.status));
    expect([...new Set(branches.map((b) => String(b['x-status'])))].filter((status) => !declared.has(status))).toEqual([]);
  });

  it('every response of every operation declares x-request-id', () => {
    const missing = responses()
      .filter(({ response }) => (response.headers as Json | undefined)?.['x-request-id'] === undefined)
      .map(({ op, status }) => `${op} ${status}`);
    expect(missing).toEqual([]);
  });

  it('generated/error-codes.ts has each code with the status and type the spec gives it', () => {
    expect(Object.fromEntries(branches.map((b) => [b.const, { status: b['x-status'], type: b['x-type'] }]))).toEqual(errorCodes);
  });
});
