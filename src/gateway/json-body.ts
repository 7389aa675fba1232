/**
 * A JSON request body, parsed and checked against the shape limits (string length,
 * nesting depth) and for numbers out of a double's range before it is validated
 * against the spec.
 */
import type { GatewayError } from '../domain/errors.js';
import { invalidRequest } from './http-errors.js';
import { fieldPath } from '../field-path.js';

/** Limits on the shape of a JSON body, beyond its size. */
export interface JsonLimits {
  maxStringLength: number;
  maxDepth: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A path segment chain, turned into `messages[0].content` only when a 400 needs it. */
interface PathNode {
  parent: PathNode | undefined;
  key: string | number;
}

function pathText(node: PathNode | undefined): string | null {
  const keys: (string | number)[] = [];
  for (let n = node; n; n = n.parent) keys.unshift(n.key);
  return keys.length === 0 ? null : fieldPath(keys);
}

/**
 * Whether `value` is within the limits: the check every request pays, so it keeps no
 * paths (two flat stacks, no object per node). Without recursion, so deep input cannot
 * overflow the stack.
 */
function withinLimits(value: unknown, limits: JsonLimits): boolean {
  const values: unknown[] = [value];
  const depths: number[] = [0];
  while (values.length > 0) {
    const current = values.pop();
    const depth = depths.pop() as number;
    if (typeof current === 'string') {
      if (current.length > limits.maxStringLength) return false;
      continue;
    }
    if (typeof current === 'number') {
      if (!Number.isFinite(current)) return false;
      continue;
    }
    if (current === null || typeof current !== 'object') continue;
    if (depth >= limits.maxDepth) return false;
    if (Array.isArray(current)) {
      for (const item of current) {
        values.push(item);
        depths.push(depth + 1);
      }
    } else {
      for (const key in current) {
        if (key.length > limits.maxStringLength) return false;
        values.push((current as Record<string, unknown>)[key]);
        depths.push(depth + 1);
      }
    }
  }
  return true;
}

/** The first place `value` breaks the limits, with its path (only run once `withinLimits` said no). */
function checkShape(value: unknown, limits: JsonLimits): GatewayError | undefined {
  const stack: { value: unknown; path: PathNode | undefined; depth: number }[] = [{ value, path: undefined, depth: 0 }];
  while (stack.length > 0) {
    const { value: current, path, depth } = stack.pop() as (typeof stack)[number];
    if (typeof current === 'string') {
      if (current.length > limits.maxStringLength) {
        const param = pathText(path);
        return invalidRequest(`The string at '${param ?? 'body'}' is ${current.length} characters; the limit is ${limits.maxStringLength}.`, param, 'string_too_long');
      }
      continue;
    }
    if (typeof current === 'number') {
      if (Number.isFinite(current)) continue;
      // JSON.parse turns 1e309 into Infinity, which JSON.stringify would send on as null.
      const param = pathText(path);
      return invalidRequest(`The number at '${param ?? 'body'}' is too large: JSON numbers must fit in a double (at most about 1.8e308).`, param, 'invalid_value');
    }
    if (current === null || typeof current !== 'object') continue;
    if (depth >= limits.maxDepth) {
      const param = pathText(path);
      return invalidRequest(`The body is nested more than ${limits.maxDepth} levels deep${param ? ` at '${param}'` : ''}.`, param, 'too_deep');
    }
    if (Array.isArray(current)) {
      for (let i = current.length - 1; i >= 0; i -= 1) stack.push({ value: current[i], path: { parent: path, key: i }, depth: depth + 1 });
    } else {
      for (const [key, item] of Object.entries(current)) {
        if (key.length > limits.maxStringLength) return invalidRequest(`A key in the body is longer than ${limits.maxStringLength} characters.`, pathText(path), 'string_too_long');
        stack.push({ value: item, path: { parent: path, key }, depth: depth + 1 });
      }
    }
  }
  return undefined;
}

/**
 * Parses a JSON body (its Content-Type was checked with the headers). Anything that
 * cannot be a request is a 400 naming what is wrong: bytes that are not UTF-8 or not
 * JSON, JSON that is a string (never a request object), or a body past the limits. An
 * empty body is `undefined` (the spec's validation says what is missing).
 */
export function parseJsonBody(raw: Buffer, limits: JsonLimits): unknown {
  if (raw.length === 0) return undefined;
  let text: string;
  try {
    text = utf8.decode(raw);
  } catch {
    throw invalidRequest('The request body is not valid UTF-8.', null, 'invalid_utf8');
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw invalidRequest('We could not parse the JSON body of your request: it is not valid JSON.', null, 'invalid_json');
  }
  if (typeof body === 'string') throw invalidRequest('The request body must be a JSON object.', null, 'invalid_body');
  if (withinLimits(body, limits)) return body;
  throw checkShape(body, limits) ?? invalidRequest('The request body breaks the limits.', null, 'invalid_body');
}
