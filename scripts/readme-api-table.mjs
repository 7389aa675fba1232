#!/usr/bin/env node
// Renders the README's API reference from openapi.yaml.
//
//   node scripts/readme-api-table.mjs          rewrite README.md between the markers
//   node scripts/readme-api-table.mjs --check  exit 1 when README.md is out of date
//
// The section between `<!-- api-table:start -->` and `<!-- api-table:end -->` holds,
// for `POST /v1/chat/completions`: the request headers (the security scheme's header
// plus every header parameter), every top-level request body field with its type,
// constraints and description, and the 200 response's headers; then a list of the
// other operations. Everything comes from openapi.yaml (local `$ref`s resolved), in
// document order, so the output is deterministic. When the markers are missing, write
// mode adds a `## API reference` section right after `## The endpoint`.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { parse } from 'yaml';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const defaultSpecPath = path.join(repoRoot, 'openapi.yaml');
export const defaultReadmePath = path.join(repoRoot, 'README.md');

export const START_MARKER = '<!-- api-table:start -->';
export const END_MARKER = '<!-- api-table:end -->';
export const SECTION_HEADING = '## API reference';
const AFTER_HEADING = '## The endpoint';

const TARGET_METHOD = 'post';
const TARGET_PATH = '/v1/chat/completions';
const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
/** Descriptions up to this many characters are shown whole; longer ones by their first sentence. */
const SHORT_DESCRIPTION = 300;

// ---------------------------------------------------------------------------
// Spec access

/** Parse openapi.yaml (or another OpenAPI document). */
export function loadSpec(file = defaultSpecPath) {
  return parse(readFileSync(file, 'utf8'));
}

function isObject(value) {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Follow a local JSON pointer (`#/components/schemas/X`). */
function lookup(doc, ref) {
  if (typeof ref !== 'string' || !ref.startsWith('#')) {
    throw new Error(`Only local $refs are supported, got ${JSON.stringify(ref)}`);
  }
  let node = doc;
  for (const raw of ref.slice(1).split('/').slice(1)) {
    const key = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    if (!isObject(node) && !Array.isArray(node)) node = undefined;
    node = node?.[key];
    if (node === undefined) throw new Error(`Unresolvable $ref ${ref}`);
  }
  return node;
}

/** The last segment of a `$ref`, i.e. the component's name. */
function refName(ref) {
  const last = ref.split('/').pop() ?? ref;
  return decodeURIComponent(last).replace(/~1/g, '/').replace(/~0/g, '~');
}

/**
 * Resolve a node's `$ref` chain. Keywords written beside a `$ref` (OpenAPI 3.1 allows
 * e.g. `description`) win over the target's.
 */
function deref(doc, node) {
  const seen = new Set();
  let current = node;
  const overrides = [];
  while (isObject(current) && typeof current.$ref === 'string') {
    if (seen.has(current.$ref)) throw new Error(`Circular $ref ${current.$ref}`);
    seen.add(current.$ref);
    const { $ref, ...siblings } = current;
    overrides.unshift(siblings);
    current = lookup(doc, $ref);
  }
  if (overrides.length === 0) return current;
  return Object.assign({}, current, ...overrides);
}

/** Merge `allOf` members (properties and required) into one object schema. */
function flattenObject(doc, schema, seen = new Set()) {
  const resolved = deref(doc, schema);
  if (!isObject(resolved)) return { properties: {}, required: [] };
  if (seen.has(resolved)) return { properties: {}, required: [] };
  seen.add(resolved);
  const properties = {};
  const required = [];
  for (const member of resolved.allOf ?? []) {
    const sub = flattenObject(doc, member, seen);
    Object.assign(properties, sub.properties);
    required.push(...sub.required);
  }
  Object.assign(properties, resolved.properties ?? {});
  required.push(...(resolved.required ?? []));
  return { properties, required: [...new Set(required)] };
}

// ---------------------------------------------------------------------------
// Markdown helpers

/** Escape text for a Markdown table cell: one line, `|` escaped. */
function cell(text) {
  return String(text ?? '')
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/\|/g, '\\|');
}

/** A code span that survives backticks in its content (cell-escaping is done by `cell`). */
function code(text) {
  const s = String(text);
  const runs = s.match(/`+/g) ?? [];
  const fence = '`'.repeat(Math.max(0, ...runs.map((r) => r.length)) + 1);
  const pad = s.startsWith('`') || s.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${s}${pad}${fence}`;
}

/** A value as shown in constraints: strings bare, everything else as JSON. */
function literal(value) {
  return code(typeof value === 'string' ? value : JSON.stringify(value));
}

/**
 * The description to show: the whole text when short, else its first sentence (a `.`,
 * `!` or `?` outside code spans followed by whitespace and a capital, a backtick or the end).
 */
export function summarize(description) {
  const text = String(description ?? '').replace(/\s+/g, ' ').trim();
  if (text.length <= SHORT_DESCRIPTION) return text;
  let inCode = false;
  for (let i = 0; i < text.length; i += 1) {
    const ch = text[i];
    if (ch === '`') inCode = !inCode;
    if (inCode || !'.!?'.includes(ch)) continue;
    const rest = text.slice(i + 1);
    if (rest === '' || /^\s+[A-Z`("*[]/.test(rest)) {
      const sentence = text.slice(0, i + 1);
      if (/\b(?:e\.g|i\.e|etc|vs)\.$/i.test(sentence)) continue;
      return sentence;
    }
  }
  return text;
}

function table(headers, rows) {
  const lines = [`| ${headers.join(' | ')} |`, `| ${headers.map(() => '---').join(' | ')} |`];
  for (const row of rows) lines.push(`| ${row.map(cell).join(' | ')} |`);
  return lines.join('\n');
}

// ---------------------------------------------------------------------------
// Schemas

/** A schema's type as text: `$ref` by name, type arrays and anyOf/oneOf as unions. */
export function renderType(doc, schema) {
  if (schema === true || schema === undefined || schema === null) return 'any';
  if (schema === false) return 'never';
  if (!isObject(schema)) return 'any';
  if (typeof schema.$ref === 'string') return refName(schema.$ref);
  const union = schema.anyOf ?? schema.oneOf;
  if (Array.isArray(union) && union.length > 0) return joinUnion(union.map((s) => renderType(doc, s)));
  if (Array.isArray(schema.allOf) && schema.allOf.length > 0) {
    const parts = [...new Set(schema.allOf.map((s) => renderType(doc, s)))];
    return parts.length === 1 ? parts[0] : parts.map((p) => (p.includes(' | ') ? `(${p})` : p)).join(' & ');
  }
  let types = schema.type;
  if (types === undefined) {
    if ('const' in schema) types = [jsonType(schema.const)];
    else if (Array.isArray(schema.enum)) types = schema.enum.map(jsonType);
    else if (isObject(schema.properties)) types = ['object'];
    else if (schema.items !== undefined) types = ['array'];
    else return 'any';
  }
  if (!Array.isArray(types)) types = [types];
  return joinUnion(
    types.map((t) => {
      if (t !== 'array') return String(t);
      if (schema.items === undefined || schema.items === true) return 'array';
      const item = renderType(doc, schema.items);
      return `${item.includes(' ') ? `(${item})` : item}[]`;
    }),
  );
}

function joinUnion(parts) {
  return [...new Set(parts.flatMap((p) => p.split(' | ')))].join(' | ');
}

function jsonType(value) {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (Number.isInteger(value)) return 'integer';
  return typeof value === 'number' ? 'number' : typeof value;
}

/** Constraint keywords of one (resolved) schema, as short phrases. */
function ownConstraints(schema) {
  if (!isObject(schema)) return [];
  const out = [];
  if (schema.deprecated === true) out.push('deprecated');
  if ('const' in schema) out.push(`const ${literal(schema.const)}`);
  if (Array.isArray(schema.enum)) out.push(`one of ${schema.enum.map(literal).join(', ')}`);
  for (const key of [
    'minimum',
    'exclusiveMinimum',
    'maximum',
    'exclusiveMaximum',
    'multipleOf',
    'minLength',
    'maxLength',
    'minItems',
    'maxItems',
    'minProperties',
    'maxProperties',
  ]) {
    if (typeof schema[key] === 'number') out.push(`${key} ${schema[key]}`);
  }
  if (schema.uniqueItems === true) out.push('uniqueItems');
  if (typeof schema.pattern === 'string') out.push(`pattern ${code(schema.pattern)}`);
  if (typeof schema.format === 'string') out.push(`format ${code(schema.format)}`);
  if ('default' in schema) out.push(`default ${literal(schema.default)}`);
  if (isObject(schema.properties) && Object.keys(schema.properties).length > 0) {
    out.push(`fields ${Object.keys(schema.properties).map(code).join(', ')}`);
  }
  return out;
}

/**
 * For a union of object variants told apart by one property (a `discriminator`, or a
 * property with a `const` in every object variant): "`role` one of `a`, `b`".
 */
function variants(doc, schema) {
  const resolved = deref(doc, schema);
  if (!isObject(resolved)) return undefined;
  const union = resolved.oneOf ?? resolved.anyOf;
  if (!Array.isArray(union)) return undefined;
  const objects = union.map((b) => deref(doc, b)).filter((b) => isObject(b) && isObject(b.properties));
  if (objects.length < 2) return undefined;
  const candidates = resolved.discriminator?.propertyName
    ? [resolved.discriminator.propertyName]
    : Object.keys(objects[0].properties);
  for (const name of candidates) {
    const values = objects.map((b) => deref(doc, b.properties[name]));
    if (values.every((v) => isObject(v) && 'const' in v)) {
      return `${code(name)} one of ${[...new Set(values.map((v) => v.const))].map(literal).join(', ')}`;
    }
  }
  if (isObject(resolved.discriminator?.mapping)) {
    return `${code(resolved.discriminator.propertyName)} one of ${Object.keys(resolved.discriminator.mapping).map(literal).join(', ')}`;
  }
  return undefined;
}

/** Constraints of a schema, including those of inline anyOf/oneOf branches and variants. */
function constraints(doc, schema, required) {
  const resolved = deref(doc, schema);
  const out = required ? ['**required**'] : [];
  out.push(...ownConstraints(resolved));
  const union = isObject(resolved) ? (resolved.anyOf ?? resolved.oneOf) : undefined;
  if (Array.isArray(union)) {
    for (const branch of union) {
      if (!isObject(branch) || '$ref' in branch) continue;
      const inner = ownConstraints(branch).filter(
        (c) => !c.startsWith('fields ') && !(c.startsWith('const ') && branch.type === 'null'),
      );
      if (inner.length > 0) out.push(`${code(renderType(doc, branch))}: ${inner.join(', ')}`);
    }
  }
  const own = variants(doc, resolved);
  if (own) out.push(own);
  const items = isObject(resolved) && isObject(resolved.items) ? variants(doc, resolved.items) : undefined;
  if (items) out.push(`items: ${items}`);
  return out.join('; ');
}

/** The description of a (possibly `$ref`) schema: its own, else its target's. */
function describe(doc, node) {
  const resolved = deref(doc, node);
  return summarize(isObject(resolved) ? resolved.description : '');
}

/** The type of a header's value: the wire type of the resolved schema. */
function wireType(doc, schema) {
  const resolved = deref(doc, schema);
  return renderType(doc, resolved);
}

/** A parameter's or header's schema (from `schema`, else its first `content` entry). */
function valueSchema(node) {
  if (node.schema !== undefined) return node.schema;
  const first = isObject(node.content) ? Object.values(node.content)[0] : undefined;
  return isObject(first) ? first.schema : undefined;
}

// ---------------------------------------------------------------------------
// Operations

function operations(doc) {
  const out = [];
  for (const [p, rawItem] of Object.entries(doc.paths ?? {})) {
    const item = deref(doc, rawItem);
    if (!isObject(item)) continue;
    for (const method of HTTP_METHODS) {
      if (isObject(item[method])) out.push({ method, path: p, item, op: item[method] });
    }
  }
  return out;
}

/** Path-level then operation-level parameters, resolved; the operation's win by name+in. */
function parameters(doc, item, op) {
  const byKey = new Map();
  for (const raw of [...(item.parameters ?? []), ...(op.parameters ?? [])]) {
    const param = deref(doc, raw);
    if (!isObject(param)) continue;
    const key = `${param.in}:${String(param.name).toLowerCase()}`;
    byKey.delete(key);
    byKey.set(key, param);
  }
  return [...byKey.values()];
}

function security(doc, op) {
  return Array.isArray(op.security) ? op.security : Array.isArray(doc.security) ? doc.security : [];
}

/** Whether an operation needs credentials, and which schemes satisfy it. */
function authSummary(doc, op) {
  const reqs = security(doc, op);
  if (reqs.length === 0) return 'no';
  const optional = reqs.some((r) => isObject(r) && Object.keys(r).length === 0);
  const alternatives = reqs
    .filter((r) => isObject(r) && Object.keys(r).length > 0)
    .map((r) => Object.keys(r).join(' + '));
  const names = alternatives.join(' or ');
  return optional ? `optional (${names})` : `yes (${names})`;
}

/** Rows for the request headers a security requirement puts on the wire. */
function securityHeaderRows(doc, op) {
  const reqs = security(doc, op);
  const required = reqs.length > 0 && !reqs.some((r) => isObject(r) && Object.keys(r).length === 0);
  const schemes = doc.components?.securitySchemes ?? {};
  const rows = new Map();
  for (const req of reqs) {
    if (!isObject(req)) continue;
    for (const name of Object.keys(req)) {
      const scheme = deref(doc, schemes[name]);
      if (!isObject(scheme)) throw new Error(`Unknown security scheme ${name}`);
      let header;
      let format;
      if (scheme.type === 'http') {
        header = 'Authorization';
        const s = String(scheme.scheme ?? '').toLowerCase();
        const label = s === 'bearer' ? 'Bearer' : s === 'basic' ? 'Basic' : String(scheme.scheme);
        format = `${label} <${s === 'basic' ? 'base64 user:password' : 'secret'}>`;
      } else if (scheme.type === 'apiKey' && scheme.in === 'header') {
        header = scheme.name;
      } else if (scheme.type === 'oauth2' || scheme.type === 'openIdConnect') {
        header = 'Authorization';
        format = 'Bearer <access token>';
      } else {
        continue;
      }
      const key = header.toLowerCase();
      if (rows.has(key)) continue;
      const always = required && reqs.every((r) => isObject(r) && name in r);
      const constraint = [
        always ? '**required**' : required ? '**required** (or another scheme)' : '',
        format ? `value ${code(format)}` : '',
        `security scheme ${code(name)}`,
      ].filter(Boolean);
      rows.set(key, [code(header), code('string'), constraint.join('; '), summarize(scheme.description)]);
    }
  }
  return [...rows.values()];
}

function parameterRow(doc, param) {
  const schema = valueSchema(param);
  const parts = [constraints(doc, schema, param.required === true)];
  if (param.deprecated === true) parts.unshift('deprecated');
  return [
    code(param.name),
    code(wireType(doc, schema)),
    parts.filter(Boolean).join('; '),
    summarize(param.description ?? describe(doc, schema)),
  ];
}

function successResponse(doc, op) {
  const responses = op.responses ?? {};
  const code200 = '200' in responses ? '200' : Object.keys(responses).filter((c) => /^2/.test(c)).sort()[0];
  return code200 === undefined ? undefined : { status: code200, response: deref(doc, responses[code200]) };
}

// ---------------------------------------------------------------------------
// Rendering

/**
 * Render the README's API reference section (without the marker lines) from a parsed
 * OpenAPI document.
 * @param {Record<string, any>} doc
 * @returns {string}
 */
export function renderApiReference(doc) {
  const ops = operations(doc);
  const target = ops.find((o) => o.method === TARGET_METHOD && o.path === TARGET_PATH);
  if (!target) throw new Error(`openapi.yaml has no ${TARGET_METHOD.toUpperCase()} ${TARGET_PATH}`);
  const { item, op } = target;
  const out = [];

  out.push(
    '<!-- Generated from openapi.yaml by `npm run readme`; edit the spec, then rerun it. -->',
    '',
    `### \`${TARGET_METHOD.toUpperCase()} ${TARGET_PATH}\`${op.summary ? ` — ${cell(op.summary)}` : ''}`,
    '',
  );

  // Request headers.
  const params = parameters(doc, item, op);
  const headerRows = [
    ...securityHeaderRows(doc, op),
    ...params.filter((p) => p.in === 'header').map((p) => parameterRow(doc, p)),
  ];
  out.push('Request headers:', '', table(['Header', 'Type', 'Constraints', 'Description'], headerRows), '');

  // Other parameters, should the operation ever take any.
  const otherParams = params.filter((p) => p.in !== 'header');
  if (otherParams.length > 0) {
    out.push(
      'Parameters:',
      '',
      table(
        ['Name', 'In', 'Type', 'Constraints', 'Description'],
        otherParams.map((p) => {
          const [name, type, cons, desc] = parameterRow(doc, p);
          return [name, p.in, type, cons, desc];
        }),
      ),
      '',
    );
  }

  // Request body.
  const body = deref(doc, op.requestBody);
  if (isObject(body) && isObject(body.content)) {
    const mediaType = 'application/json' in body.content ? 'application/json' : Object.keys(body.content)[0];
    const rawSchema = body.content[mediaType]?.schema;
    const schemaName = isObject(rawSchema) && typeof rawSchema.$ref === 'string' ? refName(rawSchema.$ref) : undefined;
    const resolved = deref(doc, rawSchema);
    const intro = [`Request body (${code(mediaType)}`];
    if (schemaName) intro.push(`, schema ${code(schemaName)}`);
    intro.push(body.required === true ? ', required):' : '):');
    out.push(intro.join(''));
    const bodyDescription = summarize(isObject(resolved) ? resolved.description : '');
    if (bodyDescription) out.push(bodyDescription);
    out.push('');
    const { properties, required } = flattenObject(doc, rawSchema);
    const rows = Object.entries(properties).map(([name, prop]) => [
      code(name),
      code(renderType(doc, prop)),
      constraints(doc, prop, required.includes(name)),
      describe(doc, prop),
    ]);
    out.push(table(['Field', 'Type', 'Constraints', 'Description'], rows), '');
  }

  // Response headers.
  const success = successResponse(doc, op);
  if (success && isObject(success.response?.headers) && Object.keys(success.response.headers).length > 0) {
    const rows = Object.entries(success.response.headers)
      .filter(([name]) => name.toLowerCase() !== 'content-type')
      .map(([name, raw]) => {
        const header = deref(doc, raw);
        const schema = valueSchema(header);
        return [
          code(name),
          code(wireType(doc, schema)),
          constraints(doc, schema, false),
          summarize(header.description ?? describe(doc, schema)),
        ];
      });
    out.push(
      `Response headers (${success.status}):`,
      '',
      table(['Header', 'Type', 'Constraints', 'Description'], rows),
      '',
    );
  }

  // Other operations.
  const others = ops.filter((o) => o !== target);
  if (others.length > 0) {
    out.push('### Other operations', '');
    const rows = others.map((o) => {
      const headers = parameters(doc, o.item, o.op)
        .filter((p) => p.in === 'header')
        .map((p) => code(p.name));
      return [
        code(o.method.toUpperCase()),
        code(o.path),
        o.op.summary ?? summarize(o.op.description),
        authSummary(doc, o.op),
        headers.length > 0 ? headers.join(', ') : '—',
      ];
    });
    out.push(table(['Method', 'Path', 'Summary', 'Auth', 'Request headers'], rows), '');
  }

  // Every error code, from components.schemas.ErrorCode.
  const codes = doc.components?.schemas?.ErrorCode?.oneOf;
  if (Array.isArray(codes) && codes.length > 0) {
    out.push(
      '### Errors',
      '',
      summarize(doc.components.schemas.ErrorCode.description),
      '',
      table(
        ['Code', 'Status', 'Type', 'Meaning'],
        [...codes]
          .sort((a, b) => a['x-status'] - b['x-status'])
          .map((c) => [code(c.const), String(c['x-status']), code(c['x-type']), c.description ?? '']),
      ),
      '',
    );
  }

  while (out.at(-1) === '') out.pop();
  return `${out.join('\n')}\n`;
}

// ---------------------------------------------------------------------------
// README

/** Locate the marker lines; returns line indexes or undefined when absent. */
function findMarkers(lines) {
  const starts = lines.flatMap((l, i) => (l.trim() === START_MARKER ? [i] : []));
  const ends = lines.flatMap((l, i) => (l.trim() === END_MARKER ? [i] : []));
  if (starts.length === 0 && ends.length === 0) return undefined;
  if (starts.length !== 1 || ends.length !== 1 || ends[0] < starts[0]) {
    throw new Error(`README.md must contain exactly one ${START_MARKER} line followed by one ${END_MARKER} line`);
  }
  return { start: starts[0], end: ends[0] };
}

/** The README section between the markers (without them), or undefined. */
export function extractSection(readme) {
  const lines = readme.replace(/\r\n/g, '\n').split('\n');
  const markers = findMarkers(lines);
  if (!markers) return undefined;
  const inner = lines.slice(markers.start + 1, markers.end);
  return inner.length === 0 ? '' : `${inner.join('\n')}\n`;
}

/** README text with the section replaced (or added after `## The endpoint`). */
export function updateReadme(readme, rendered) {
  const lines = readme.replace(/\r\n/g, '\n').split('\n');
  const block = [START_MARKER, ...rendered.replace(/\n$/, '').split('\n'), END_MARKER];
  const markers = findMarkers(lines);
  if (markers) {
    lines.splice(markers.start, markers.end - markers.start + 1, ...block);
    return lines.join('\n');
  }
  const existing = lines.findIndex((l) => l.trim() === SECTION_HEADING);
  if (existing !== -1) {
    lines.splice(existing + 1, 0, '', ...block);
    return lines.join('\n');
  }
  const after = lines.findIndex((l) => l.trim() === AFTER_HEADING);
  let insertAt = lines.length;
  if (after !== -1) {
    const next = lines.findIndex((l, i) => i > after && /^#{1,2} /.test(l) && !inFence(lines, i));
    if (next !== -1) insertAt = next;
  }
  const section = [SECTION_HEADING, '', ...block, ''];
  if (insertAt === lines.length) {
    while (lines.length > 0 && lines.at(-1) === '') lines.pop();
    lines.push('', ...section);
  } else {
    lines.splice(insertAt, 0, ...section);
  }
  return lines.join('\n');
}

/** Whether line i lies inside a fenced code block. */
function inFence(lines, i) {
  let open = false;
  for (let j = 0; j < i; j += 1) if (/^\s*(```|~~~)/.test(lines[j])) open = !open;
  return open;
}

/** A short hint at the first differing line of two texts. */
function diffHint(expected, actual) {
  const a = expected.split('\n');
  const b = actual.split('\n');
  for (let i = 0; i < Math.max(a.length, b.length); i += 1) {
    if (a[i] !== b[i]) {
      return [
        `first difference at line ${i + 1} of the section:`,
        `  README.md: ${b[i] === undefined ? '(end of section)' : b[i]}`,
        `  expected:  ${a[i] === undefined ? '(end of section)' : a[i]}`,
      ].join('\n');
    }
  }
  return '';
}

function main(argv) {
  const check = argv.includes('--check');
  const unknown = argv.filter((a) => a !== '--check');
  if (unknown.length > 0) {
    console.error(`usage: node scripts/readme-api-table.mjs [--check]  (unknown: ${unknown.join(' ')})`);
    return 2;
  }
  const rendered = renderApiReference(loadSpec());
  const readme = readFileSync(defaultReadmePath, 'utf8');
  if (check) {
    const current = extractSection(readme);
    if (current === undefined) {
      console.error(`README.md has no ${START_MARKER} … ${END_MARKER} section; run npm run readme`);
      return 1;
    }
    if (current !== rendered) {
      console.error('README.md API reference is out of date with openapi.yaml; run npm run readme');
      console.error(diffHint(rendered, current));
      return 1;
    }
    console.log('README.md API reference is up to date');
    return 0;
  }
  const updated = updateReadme(readme, rendered);
  if (updated !== readme) {
    writeFileSync(defaultReadmePath, updated);
    console.log('README.md API reference updated');
  } else {
    console.log('README.md API reference is up to date');
  }
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (err) {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 2;
  }
}
