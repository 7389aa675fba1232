/**
 * Turns a request validator's Ajv errors into one 400 that names the offending field
 * (`messages[0].role`) or header (`x-moltbot-agent-id`) in `param`.
 */
import type { ErrorObject } from 'ajv';
import { openapiDocument } from '../../generated/openapi-document.js';
import type { GatewayError } from '../domain/errors.js';
import { invalidRequest } from './http-errors.js';
import { fieldPath } from '../field-path.js';

/** `/requestBody/messages/0/role` → `messages[0].role`; `/header/x-a` → `x-a`; `/path/model` → `model`. */
function paramOf(instancePath: string): string | null {
  const parts = instancePath.split('/').slice(1).map((p) => p.replace(/~1/gu, '/').replace(/~0/gu, '~'));
  const [where, ...rest] = parts;
  if (where === 'header' || where === 'path') return rest[0] ?? null;
  if (where !== 'requestBody' || rest.length === 0) return null;
  return fieldPath(rest);
}

interface BranchSchema {
  $ref?: string;
  properties?: Record<string, { const?: unknown }>;
}

const componentSchemas = openapiDocument.components.schemas as unknown as Record<string, BranchSchema>;

/** A `oneOf` branch, with a `$ref` to a component schema (as the validators keep them) followed. */
function branchSchema(branch: BranchSchema): BranchSchema | undefined {
  const ref = /#\/components\/schemas\/([^/]+)$/u.exec(branch.$ref ?? '');
  return ref ? componentSchemas[ref[1] as string] : branch;
}

/** The values a discriminated `oneOf` accepts for its tag (needs Ajv's `verbose`). */
function tagValues(schema: unknown, tag: string): string[] {
  const branches = (schema as { oneOf?: BranchSchema[] } | undefined)?.oneOf ?? [];
  return branches.map((branch) => branchSchema(branch)?.properties?.[tag]?.const).filter((v): v is string => typeof v === 'string');
}

const depth = (e: ErrorObject): number => e.instancePath.split('/').length;
/** Summary keywords that only say "a branch failed"; the branch's own errors say why. */
const SUMMARY = new Set(['oneOf', 'anyOf', 'if']);

function describe(errors: ErrorObject[]): GatewayError {
  const specific = errors.filter((e) => !SUMMARY.has(e.keyword));
  const pool = specific.length > 0 ? specific : errors;
  const deepest = Math.max(...pool.map(depth));
  const chosen = pool.filter((e) => depth(e) === deepest);
  const first = chosen[0] as ErrorObject;

  if (first.keyword === 'required') {
    const missing = String(first.params.missingProperty);
    if (first.instancePath === '' && missing === 'requestBody') return notAnObject();
    const base = paramOf(first.instancePath);
    const param = base ? `${base}.${missing}` : missing;
    return invalidRequest(`Missing required parameter: '${param}'.`, param, 'missing_required_parameter');
  }
  if (first.keyword === 'discriminator') {
    const base = paramOf(first.instancePath);
    const tag = String(first.params.tag);
    const param = base ? `${base}.${tag}` : tag;
    const value = first.params.tagValue;
    const shown = typeof value === 'string' ? `'${value.slice(0, 80)}'` : JSON.stringify(value) ?? 'a missing value';
    const allowed = tagValues(first.parentSchema, tag);
    const expected = allowed.length > 0 ? ` is not one of ${allowed.map((v) => `'${v}'`).join(', ')}` : ' is not an accepted value';
    return invalidRequest(`Invalid value for '${param}': ${shown}${expected}.`, param, 'invalid_value');
  }
  const param = paramOf(first.instancePath);
  if (param === null && first.instancePath === '/requestBody') return notAnObject();
  const reasons = [...new Set(chosen.map((e) => e.message ?? 'is invalid'))].join(' or ');
  return invalidRequest(`Invalid value for '${param ?? 'request'}': ${reasons}.`, param, 'invalid_value');
}

const notAnObject = (): GatewayError => invalidRequest('The request body must be a JSON object.', null, 'invalid_body');

/** The 400 for a failed request validation. */
export function validationError(errors: ErrorObject[] | null | undefined): GatewayError {
  return !errors || errors.length === 0 ? notAnObject() : describe(errors);
}
