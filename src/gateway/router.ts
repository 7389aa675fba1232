/**
 * Routing by the spec's path templates, built once from the generated operation table:
 * exact paths are one map lookup, templated ones (`/v1/models/{model}`) a regex each.
 * Trailing slashes are ignored and methods compared case-insensitively. A parameter
 * that ends its template takes the rest of the path, slashes included: the openai SDK
 * sends `GET /v1/models/moltbot/beta` for the model `moltbot/beta` without encoding the
 * slash. `HEAD` is answered by the `GET` operation of a path (RFC 9110 §9.3.2).
 */
import { operationIds, operationPaths, type OperationId } from '../../generated/operations.js';

const ABSOLUTE_FORM = /^[a-z][a-z0-9+.-]*:\/\//iu;

/**
 * The path of a request target, without its query: origin-form (`/v1/models?x`) or
 * absolute-form (`http://host/v1/models`, which servers must accept, RFC 9112 §3.2.2).
 */
export function targetPath(target: string): string {
  let path = target;
  if (ABSOLUTE_FORM.test(target)) {
    const authorityStart = target.indexOf('//') + 2;
    const end = target.slice(authorityStart).search(/[/?#]/u);
    path = end < 0 ? '/' : target.slice(authorityStart + end);
    if (!path.startsWith('/')) path = `/${path}`;
  }
  const query = path.search(/[?#]/u);
  return (query < 0 ? path : path.slice(0, query)) || '/';
}

/** The route of a request that matched no operation, in metrics and logs. */
export const UNMATCHED_ROUTE = 'unmatched';

/** Where a request goes: an operation (its path template as `route`) with its path parameters, or why none. */
export type RouteMatch =
  | { kind: 'operation'; operationId: OperationId; route: string; secured: boolean; params: Record<string, string> }
  | { kind: 'notFound' }
  /** The path exists, the method does not; `allow` lists the methods it has. */
  | { kind: 'methodNotAllowed'; allow: string };

interface Template {
  pattern: RegExp;
  names: string[];
  /** Upper-case method → operation. */
  methods: Map<string, OperationId>;
}

export interface Router {
  match(method: string, path: string): RouteMatch;
}

const escape = (text: string): string => text.replace(/[.*+?^$()|[\]\\]/gu, '\\$&');

/** The operation for a method; `HEAD` falls back to the path's `GET`. */
function operationFor(methods: Map<string, OperationId> | undefined, method: string): OperationId | undefined {
  return methods?.get(method) ?? (method === 'HEAD' ? methods?.get('GET') : undefined);
}

/** The methods a path answers, `HEAD` with every `GET`. */
function allowed(methods: Map<string, OperationId>): string[] {
  const names = [...methods.keys()];
  return methods.has('GET') && !methods.has('HEAD') ? [...names, 'HEAD'] : names;
}

/** Path parameters are percent-decoded; a malformed escape makes the path match nothing. */
function decode(values: string[]): string[] | undefined {
  try {
    return values.map((value) => decodeURIComponent(value));
  } catch {
    return undefined;
  }
}

/**
 * A router over every operation except the `disabled` ones (they answer 404); the
 * `unsecured` ones are served without the secret even where the spec secures them.
 */
export function createRouter(disabled: readonly OperationId[], unsecured: readonly OperationId[] = []): Router {
  const exact = new Map<string, Map<string, OperationId>>();
  const templates = new Map<string, Template>();
  for (const operationId of operationIds) {
    if (disabled.includes(operationId)) continue;
    const { method, path } = operationPaths[operationId];
    if (!path.includes('{')) {
      const methods = exact.get(path) ?? new Map<string, OperationId>();
      methods.set(method.toUpperCase(), operationId);
      exact.set(path, methods);
      continue;
    }
    let template = templates.get(path);
    if (!template) {
      const names = [...path.matchAll(/\{([^}]+)\}/gu)].map((m) => m[1] as string);
      const parts = path.split(/\{[^}]+\}/u).map(escape);
      // A parameter at the very end matches one or more segments; one inside, exactly one.
      const tail = path.endsWith('}') ? '(.+)' : '';
      const source = (tail ? parts.slice(0, -1) : parts).join('([^/]+)') + tail;
      template = { pattern: new RegExp(`^${source}$`, 'u'), names, methods: new Map() };
      templates.set(path, template);
    }
    template.methods.set(method.toUpperCase(), operationId);
  }
  // Longest literal part first: the most specific template wins, as in openapi-backend.
  const ordered = [...templates.entries()]
    .sort(([a], [b]) => b.replace(/\{[^}]+\}/gu, '').length - a.replace(/\{[^}]+\}/gu, '').length)
    .map(([, template]) => template);

  const found = (operationId: OperationId, params: Record<string, string>): RouteMatch => ({
    kind: 'operation',
    operationId,
    route: operationPaths[operationId].path,
    secured: operationPaths[operationId].secured && !unsecured.includes(operationId),
    params,
  });

  return {
    match(method, rawPath) {
      let path = rawPath;
      while (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
      const upper = method.toUpperCase();
      const methods = exact.get(path);
      const direct = operationFor(methods, upper);
      if (direct) return found(direct, {});
      let allow = methods ? allowed(methods) : undefined;
      for (const template of ordered) {
        const m = template.pattern.exec(path);
        if (!m) continue;
        const operationId = operationFor(template.methods, upper);
        if (operationId) {
          const values = decode(m.slice(1));
          if (!values) return { kind: 'notFound' };
          return found(operationId, Object.fromEntries(template.names.map((name, i) => [name, values[i] as string])));
        }
        allow ??= allowed(template.methods);
      }
      return allow ? { kind: 'methodNotAllowed', allow: allow.join(', ') } : { kind: 'notFound' };
    },
  };
}
