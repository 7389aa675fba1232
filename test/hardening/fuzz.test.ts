/**
 * Schema-driven fuzzing of POST /v1/chat/completions against one in-process gateway
 * (agent main on echo, loopback exempt from the auth limiter, default body limit).
 *
 * Requests are generated from openapi.yaml's CreateChatCompletionRequest (through the
 * translator in test/helpers/schema-arbitrary.ts) and mutated away from it: a required
 * field dropped, a field of the wrong type or out of range, an unknown role or content
 * part type, extra fields, truncated JSON, random JSON values and random bytes; with
 * random Content-Type, Authorization and x-moltbot-* / x-request-id headers, streamed or
 * not. Every answer must be below 500; every 4xx must be OpenAI's error shape (our spec
 * and OpenAI's schema); every 200 a valid completion or a stream ending in [DONE]; and
 * where the mutation determines the answer (bad auth → 401, non-JSON type → 415, a
 * dropped field → 400 naming it, ...) it must be exactly that.
 *
 * FUZZ_RUNS sets the number of requests (default 10,000; sent in concurrent batches of
 * 16 over a keep-alive agent); FUZZ_SEED replays a run (the seed is printed).
 */
import { Agent } from 'node:http';
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openapiDocument } from '../../generated/openapi-document.js';
import { TEST_TOKEN, baseConfig, postChat, startGateway, type TestGateway } from '../helpers/gateway.js';
import { sendFrom } from '../helpers/hostile-http.js';
import { readCompletion, readError, readStream } from '../helpers/read.js';
import { JSON_TYPES, SchemaTranslator, valueOfType, type Schema } from '../helpers/schema-arbitrary.js';

const REQUESTS = Number(process.env.FUZZ_RUNS ?? 10_000);
const BATCH = 16;
const SEED = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : Math.floor(Math.random() * 0x7fffffff);

// ---------------------------------------------------------------- the spec's pieces

const spec = new SchemaTranslator(openapiDocument as unknown as Schema);
const requestSchema = spec.resolve('#/components/schemas/CreateChatCompletionRequest');
const properties = requestSchema.properties as Record<string, Schema>;
const requiredFields = requestSchema.required as string[];
const messageBranches = (spec.resolve('#/components/schemas/ChatCompletionRequestMessage').oneOf as Schema[]).map((branch) => spec.deref(branch));
const roleOf = (branch: Schema): string => ((branch.properties as Record<string, Schema>).role as Schema).const as string;
const ROLES = messageBranches.map(roleOf);
const requiredByRole = new Map(messageBranches.map((branch) => [roleOf(branch), branch.required as string[]]));
const messageKeys = new Set(messageBranches.flatMap((branch) => Object.keys(branch.properties as object)));
const PART_TYPES = (spec.resolve('#/components/schemas/ChatCompletionRequestUserMessageContentPart').oneOf as Schema[]).map(
  (branch) => ((spec.deref(branch).properties as Record<string, Schema>).type as Schema).const as string,
);
const agentIdSchema = spec.resolve('#/components/schemas/AgentId');
const sessionKeySchema = spec.resolve('#/components/schemas/SessionKey');

/** Codes of 4xx answers to schema-valid requests: what the spec cannot express (images on echo, routing). */
const SEMANTIC_CODES = new Set([
  'images_not_supported',
  'too_many_images',
  'invalid_image',
  'image_url_not_allowed',
  'image_too_large',
  'missing_new_turn',
  'invalid_agent_id',
  'model_not_found',
  'session_agent_mismatch',
]);

// ---------------------------------------------------------------- cases

type Body = Record<string, unknown> & { messages: Record<string, unknown>[] };

/** What the answer must be. */
type Oracle =
  | { kind: 'exact'; status: number; codes?: string[]; param?: string | null }
  /** 200, or a 4xx with a semantic code: never a schema 400 for a schema-valid request. */
  | { kind: 'accepted' }
  | { kind: 'client-error' }
  | { kind: 'any' };

interface BodyCase {
  label: string;
  body: Buffer;
  oracle: Oracle;
}

interface Case extends BodyCase {
  headers: Record<string, string>;
}

const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));
const clone = (body: Body): Body => structuredClone(body);
const setOwn = (target: object, key: string, value: unknown): void => {
  // defineProperty, so `__proto__` becomes an own (JSON) key rather than the prototype.
  Object.defineProperty(target, key, { value, enumerable: true, configurable: true, writable: true });
};
const badParam = (param: string, codes = ['invalid_value']): Oracle => ({ kind: 'exact', status: 400, codes, param });

/** A schema-valid request, with realistic models and `stream` true/false/absent mixed in. */
const validBody: fc.Arbitrary<Body> = fc
  .tuple(
    spec.arbitrary(requestSchema) as fc.Arbitrary<Body>,
    fc.option(fc.constantFrom('moltbot', 'moltbot:main', 'moltbot/MAIN', 'agent:main', 'moltbot:nobody', 'moltbot:bad id!', 'gpt-4o'), { nil: undefined }),
    fc.constantFrom<boolean | undefined>(true, false, undefined),
    fc.option(fc.string({ unit: 'binary', maxLength: 20 }), { nil: undefined }),
  )
  .map(([body, model, stream, lastUserText]) => {
    const copy = clone(body);
    // Often a plain user turn last, so many requests get as far as the agent's reply.
    if (lastUserText !== undefined) copy.messages.push({ role: 'user', content: lastUserText });
    if (model !== undefined) copy.model = model;
    if (stream !== undefined) copy.stream = stream;
    return copy;
  });

const valid: fc.Arbitrary<BodyCase> = validBody.map((body) => ({ label: 'valid', body: json(body), oracle: { kind: 'accepted' } }));

/** Each required field of the body or of one of its messages, dropped. */
const dropRequired: fc.Arbitrary<BodyCase> = validBody.chain((body) => {
  const drops: { param: string; drop: (b: Body) => void }[] = requiredFields.map((field) => ({ param: field, drop: (b) => delete b[field] }));
  body.messages.forEach((message, i) => {
    for (const field of requiredByRole.get(message.role as string) ?? []) {
      if (field !== 'role') drops.push({ param: `messages[${i}].${field}`, drop: (b) => delete b.messages[i]?.[field] });
    }
  });
  return fc.constantFrom(...drops).map(({ param, drop }) => {
    const copy = clone(body);
    drop(copy);
    return { label: 'drop-required', body: json(copy), oracle: badParam(param, ['missing_required_parameter']) };
  });
});

/** A top-level field set to a value of a JSON type its schema does not accept. */
const wrongType: fc.Arbitrary<BodyCase> = fc.tuple(validBody, fc.constantFrom(...Object.keys(properties))).chain(([body, field]) => {
  const accepted = spec.acceptedTypes(properties[field] as Schema);
  const wrong = JSON_TYPES.filter((type) => !accepted.has(type));
  return fc
    .constantFrom(...wrong)
    .chain(valueOfType)
    .map((value) => ({ label: 'wrong-type', body: json({ ...body, [field]: value }), oracle: badParam(field) }));
});

/** A top-level field of the right type past one of its bounds (temperature 2.5, n 2, stop of 5, ...). */
const boundedFields = Object.entries(properties)
  .map(([field, schema]) => [field, spec.outOfRange(schema)] as const)
  .filter(([, values]) => values.length > 0);
const outOfRange: fc.Arbitrary<BodyCase> = fc.tuple(validBody, fc.constantFrom(...boundedFields)).chain(([body, [field, values]]) =>
  fc.oneof(...values).map((value) => ({ label: 'out-of-range', body: json({ ...body, [field]: value }), oracle: badParam(field) })),
);

/** One message with a role the spec does not have (or a role that is not a string). */
const unknownRole: fc.Arbitrary<BodyCase> = fc
  .tuple(validBody, fc.nat(), fc.oneof(fc.string({ maxLength: 12 }).filter((role) => !ROLES.includes(role)), fc.integer(), fc.constant(null), fc.boolean()))
  .map(([body, n, role]) => {
    const copy = clone(body);
    const i = n % copy.messages.length;
    copy.messages[i] = { ...copy.messages[i], role };
    return { label: 'unknown-role', body: json(copy), oracle: badParam(`messages[${i}].role`) };
  });

/** One message whose content gets a part of a type the spec does not have for it. */
const unknownPartType: fc.Arbitrary<BodyCase> = fc
  .tuple(validBody, fc.nat(), fc.nat({ max: 2 }), fc.oneof(fc.string({ maxLength: 10 }), fc.constantFrom(...PART_TYPES, 'audio', 'input_audio', 'file')), fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 2 }))
  .filter(([body, n, , type]) => {
    const role = body.messages[n % body.messages.length]?.role;
    return role === 'user' ? !PART_TYPES.includes(type) : type !== 'text';
  })
  .map(([body, n, before, type, extra]) => {
    const copy = clone(body);
    const i = n % copy.messages.length;
    const parts: unknown[] = Array.from({ length: before }, (_, k) => ({ type: 'text', text: `part ${k}` }));
    const part = { ...extra };
    setOwn(part, 'type', type);
    parts.push(part);
    copy.messages[i] = { ...copy.messages[i], content: parts };
    return { label: 'unknown-part-type', body: json(copy), oracle: badParam(`messages[${i}].content[${before}].type`) };
  });

/** Keys the spec does not define, at the top and in a message (`__proto__` and friends included): ignored. */
const extraKey = (known: (key: string) => boolean): fc.Arbitrary<string> =>
  fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', 'metadata', 'logprobs')).filter((key) => !known(key));
const extras = (known: (key: string) => boolean): fc.Arbitrary<[string, unknown][]> =>
  fc.array(fc.tuple(extraKey(known), fc.jsonValue({ maxDepth: 3 })), { minLength: 1, maxLength: 4 });
const extraFields: fc.Arbitrary<BodyCase> = fc
  .tuple(validBody, extras((key) => Object.hasOwn(properties, key)), fc.option(extras((key) => messageKeys.has(key)), { nil: undefined }))
  .map(([body, top, inMessage]) => {
    const copy = clone(body);
    for (const [key, value] of top) setOwn(copy, key, value);
    for (const [key, value] of inMessage ?? []) setOwn(copy.messages[0] as object, key, value);
    return { label: 'extra-fields', body: json(copy), oracle: { kind: 'accepted' } };
  });

/** A valid body cut short: invalid JSON (or invalid UTF-8 when the cut splits a character). */
const truncated: fc.Arbitrary<BodyCase> = fc.tuple(validBody, fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true })).map(([body, at]) => {
  const bytes = json(body);
  const cut = 1 + Math.floor(at * (bytes.length - 1));
  return { label: 'truncated', body: bytes.subarray(0, cut), oracle: { kind: 'exact', status: 400, codes: ['invalid_json', 'invalid_utf8'], param: null } };
});

/** A valid body with a field nested past the default maxDepth (32). */
const tooDeep: fc.Arbitrary<BodyCase> = fc.tuple(validBody, fc.integer({ min: 33, max: 200 }), fc.boolean()).map(([body, depth, arrays]) => {
  const nested = arrays ? `${'['.repeat(depth)}${']'.repeat(depth)}` : `${'{"k":'.repeat(depth)}0${'}'.repeat(depth)}`;
  const text = JSON.stringify({ ...body, metadata: null }).replace('"metadata":null', `"metadata":${nested}`);
  return { label: 'too-deep', body: Buffer.from(text), oracle: { kind: 'exact', status: 400, codes: ['too_deep'] } };
});

/** Any JSON value at all: never a request by chance in practice, so a 4xx; 400 when not an object. */
const anyJson: fc.Arbitrary<BodyCase> = fc.jsonValue({ maxDepth: 4 }).map((value) => ({
  label: 'json-value',
  body: json(value),
  oracle: value !== null && typeof value === 'object' && !Array.isArray(value) ? { kind: 'client-error' } : { kind: 'exact', status: 400, param: null },
}));

const randomBytes: fc.Arbitrary<BodyCase> = fc.uint8Array({ maxLength: 512 }).map((bytes) => ({ label: 'bytes', body: Buffer.from(bytes), oracle: { kind: 'client-error' } }));

const bodyCase: fc.Arbitrary<BodyCase> = fc.oneof(
  { weight: 6, arbitrary: valid },
  { weight: 2, arbitrary: extraFields },
  { weight: 2, arbitrary: dropRequired },
  { weight: 2, arbitrary: wrongType },
  { weight: 2, arbitrary: outOfRange },
  { weight: 1, arbitrary: unknownRole },
  { weight: 1, arbitrary: unknownPartType },
  { weight: 1, arbitrary: truncated },
  { weight: 1, arbitrary: tooDeep },
  { weight: 1, arbitrary: anyJson },
  { weight: 1, arbitrary: randomBytes },
);

// ---------------------------------------------------------------- headers

/** Values node:http will send: visible ASCII, space, tab and Latin-1. */
const headerValue = (maxLength = 40): fc.Arbitrary<string> =>
  fc.string({ unit: fc.oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.integer({ min: 0xa0, max: 0xff }), fc.constant(0x09)).map((c) => String.fromCharCode(c)), maxLength });
/** What the server sees of a header value: HTTP strips spaces and tabs around it. */
const trimOws = (value: string): string => value.replace(/^[ \t]+|[ \t]+$/gu, '');

type Auth = { kind: 'ok' | 'bad'; header: string | undefined };
const auth: fc.Arbitrary<Auth> = fc.oneof(
  { weight: 14, arbitrary: fc.constant<Auth>({ kind: 'ok', header: `Bearer ${TEST_TOKEN}` }) },
  { weight: 1, arbitrary: fc.constantFrom<Auth>({ kind: 'ok', header: `bearer ${TEST_TOKEN}` }, { kind: 'ok', header: `BEARER   ${TEST_TOKEN}  ` }) },
  {
    weight: 2,
    arbitrary: fc.oneof(
      fc.constant<Auth>({ kind: 'bad', header: undefined }),
      fc.constantFrom(`Bearer ${TEST_TOKEN}x`, `Bearer ${TEST_TOKEN.slice(0, -1)}`, `Basic ${Buffer.from(`u:${TEST_TOKEN}`).toString('base64')}`, TEST_TOKEN, 'Bearer', '', `Bearer${TEST_TOKEN}`).map((header): Auth => ({ kind: 'bad', header })),
      fc.string({ maxLength: 30 }).map((token): Auth => ({ kind: 'bad', header: `Bearer ${token}` })),
      headerValue().map((header): Auth => ({ kind: 'bad', header })),
    ).filter((a) => a.header === undefined || !new RegExp(`^bearer +${TEST_TOKEN} *$`, 'iu').test(trimOws(a.header))),
  },
);

type ContentType = { kind: 'json' | 'non-json' | 'random'; header: string | undefined };
const contentType: fc.Arbitrary<ContentType> = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom<ContentType>(...['application/json', 'application/json; charset=utf-8', 'application/vnd.api+json', 'APPLICATION/JSON', undefined].map((header) => ({ kind: 'json' as const, header }))) },
  { weight: 1, arbitrary: fc.constantFrom<ContentType>(...['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml', 'text/json', 'application/jsonp'].map((header) => ({ kind: 'non-json' as const, header }))) },
  { weight: 1, arbitrary: headerValue().map((header): ContentType => ({ kind: 'random', header })) },
);

/** Routing headers: absent or harmless (`plain`), or anything else (`other`). */
type Routing = { kind: 'plain' | 'other'; headers: Record<string, string> };
const agentHeader: fc.Arbitrary<Routing> = fc.oneof(
  { weight: 10, arbitrary: fc.constant<Routing>({ kind: 'plain', headers: {} }) },
  { weight: 1, arbitrary: fc.constantFrom('main', 'MAIN', 'Main').map((id): Routing => ({ kind: 'plain', headers: { 'x-moltbot-agent-id': id } })) },
  { weight: 1, arbitrary: fc.oneof(spec.arbitrary(agentIdSchema) as fc.Arbitrary<string>, headerValue(80)).map((id): Routing => ({ kind: 'other', headers: { 'x-moltbot-agent-id': id } })) },
);
const sessionHeader: fc.Arbitrary<Routing> = fc.oneof(
  { weight: 10, arbitrary: fc.constant<Routing>({ kind: 'plain', headers: {} }) },
  { weight: 1, arbitrary: fc.oneof(spec.arbitrary(sessionKeySchema) as fc.Arbitrary<string>, fc.constantFrom('agent:beta:x', 'agent:main:fuzz')).map((key): Routing => ({ kind: 'plain', headers: { 'x-moltbot-session-key': key } })) },
  { weight: 1, arbitrary: fc.oneof(headerValue(600), fc.constant('k'.repeat(513))).map((key): Routing => ({ kind: 'other', headers: { 'x-moltbot-session-key': key } })) },
);
const requestIdHeader: fc.Arbitrary<string | undefined> = fc.oneof(fc.constant(undefined), fc.stringMatching(/^[A-Za-z0-9._:-]{1,128}$/u), headerValue(150));
const otherMoltbotHeaders: fc.Arbitrary<Record<string, string>> = fc.dictionary(
  fc.stringMatching(/^[a-z0-9-]{1,12}$/u).map((name) => `x-moltbot-${name}`).filter((name) => name !== 'x-moltbot-agent-id' && name !== 'x-moltbot-session-key'),
  headerValue(),
  { maxKeys: 2 },
);

const fuzzCase: fc.Arbitrary<Case> = fc
  .tuple(bodyCase, auth, contentType, agentHeader, sessionHeader, requestIdHeader, otherMoltbotHeaders)
  .map(([body, authorization, type, agent, session, requestId, others]) => {
    const headers: Record<string, string> = { ...others, ...agent.headers, ...session.headers };
    if (authorization.header !== undefined) headers.authorization = authorization.header;
    if (type.header !== undefined) headers['content-type'] = type.header;
    if (requestId !== undefined) headers['x-request-id'] = requestId;
    let oracle: Oracle;
    let label = body.label;
    if (authorization.kind === 'bad') {
      // Authentication comes before anything the body or the other headers could be blamed for.
      oracle = { kind: 'exact', status: 401, codes: ['invalid_api_key'], param: null };
      label = 'bad-auth';
    } else if (type.kind === 'non-json') {
      oracle = { kind: 'exact', status: 415, codes: ['unsupported_media_type'], param: null };
      label = 'non-json';
    } else if (type.kind === 'random' || agent.kind === 'other' || session.kind === 'other') {
      oracle = { kind: 'any' };
      label = 'odd-headers';
    } else {
      oracle = body.oracle;
    }
    const built: Case = { ...body, label, headers, oracle };
    // Counterexamples print as readable requests, not byte arrays.
    return Object.assign(built, { [fc.toStringMethod]: () => describeCase(built) });
  });

// ---------------------------------------------------------------- running

let gateway: TestGateway;
const agent = new Agent({ keepAlive: true, maxSockets: BATCH });
beforeAll(async () => {
  const file = baseConfig();
  file.gateway = { ...file.gateway, auth: { ...file.gateway?.auth, rateLimit: { exemptLoopback: true } } };
  gateway = await startGateway(file);
});
afterAll(async () => {
  agent.destroy();
  await gateway.close();
});

const statuses = new Map<number, number>();
const labels = new Map<string, number>();
const codes = new Map<string, number>();
let sent = 0;
const count = <K>(map: Map<K, number>, key: K): void => {
  map.set(key, (map.get(key) ?? 0) + 1);
};

function describeCase(c: Case): string {
  const body = c.body.toString('utf8');
  return `${c.label} (expecting ${JSON.stringify(c.oracle)}) headers ${JSON.stringify(c.headers)} body ${JSON.stringify(body.length > 2000 ? `${body.slice(0, 2000)}…` : body)}`;
}

/** Sends one case and checks the answer; throws with the case in the message when it is wrong. */
async function check(c: Case): Promise<void> {
  const res = await sendFrom(`${gateway.url}/v1/chat/completions`, { headers: c.headers, body: c.body, agent });
  sent += 1;
  count(statuses, res.status);
  count(labels, c.label);
  const text = await res.clone().text();
  try {
    expect(res.status).toBeLessThan(500);
    const requestId = res.headers.get('x-request-id') ?? '';
    const ownId = c.headers['x-request-id'] === undefined ? undefined : trimOws(c.headers['x-request-id']);
    if (ownId !== undefined && /^[A-Za-z0-9._:-]{1,128}$/u.test(ownId)) expect(requestId).toBe(ownId);
    else expect(requestId).toMatch(/^req_[0-9a-f]{32}$/u);

    let code: string | null = null;
    let param: string | null = null;
    if (res.status === 200) {
      if ((res.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
        const stream = await readStream(res);
        if (stream.error) code = stream.error.code;
      } else {
        await readCompletion(res);
      }
    } else {
      expect(res.status).toBeGreaterThanOrEqual(400);
      const error = await readError(res, res.status);
      code = error.code;
      param = error.param;
    }
    count(codes, `${res.status} ${code ?? ''}`.trim());

    const { oracle } = c;
    if (oracle.kind === 'exact') {
      expect(res.status).toBe(oracle.status);
      if (oracle.codes) expect(oracle.codes).toContain(code);
      if (oracle.param !== undefined) expect(param).toBe(oracle.param);
    } else if (oracle.kind === 'accepted') {
      if (res.status !== 200) expect(SEMANTIC_CODES, `a schema-valid request was refused: ${code}`).toContain(code);
    } else if (oracle.kind === 'client-error') {
      expect(res.status).toBeGreaterThanOrEqual(400);
    }
  } catch (err) {
    throw new Error(`${(err as Error).message}\n  request: ${describeCase(c)}\n  answer: ${res.status} ${text.slice(0, 1000)}`, { cause: err });
  }
}

it(`fuzzes ${REQUESTS} requests from the spec and mutations of it (seed ${SEED})`, async () => {
  console.log(`fuzz: FUZZ_SEED=${SEED} FUZZ_RUNS=${REQUESTS}`);
  const started = performance.now();
  try {
    await fc.assert(
      fc.asyncProperty(fc.array(fuzzCase, { minLength: BATCH, maxLength: BATCH }), async (cases) => {
        await Promise.all(cases.map(check));
      }),
      { numRuns: Math.ceil(REQUESTS / BATCH), seed: SEED, interruptAfterTimeLimit: 150_000, markInterruptAsFailure: true },
    );
  } catch (err) {
    console.log(`fuzz FAILED: replay with FUZZ_SEED=${SEED} FUZZ_RUNS=${REQUESTS}`);
    throw err;
  } finally {
    const seconds = (performance.now() - started) / 1000;
    const histogram = Object.fromEntries([...statuses].sort(([a], [b]) => a - b));
    const kinds = Object.fromEntries([...labels].sort(([a], [b]) => a.localeCompare(b)));
    const byCode = Object.fromEntries([...codes].sort(([a], [b]) => a.localeCompare(b)));
    console.log(`fuzz: ${sent} requests in ${seconds.toFixed(1)} s (${Math.round(sent / seconds)}/s); statuses ${JSON.stringify(histogram)}`);
    console.log(`fuzz: cases ${JSON.stringify(kinds)}`);
    console.log(`fuzz: answers ${JSON.stringify(byCode)}`);
  }
  expect(sent).toBeGreaterThanOrEqual(REQUESTS);

  // Still healthy: the probe, a normal chat, and nothing logged as an internal error.
  const health = await fetch(`${gateway.url}/healthz`);
  expect(health.status).toBe(200);
  const completion = await readCompletion(await postChat(gateway, { model: 'moltbot', messages: [{ role: 'user', content: 'after the storm' }] }));
  expect(completion.choices[0]?.message.content).toBe('after the storm');
  const errors = gateway.logs.filter((line) => (JSON.parse(line) as { level: string }).level === 'error');
  expect(errors.slice(0, 3)).toEqual([]);
}, 240_000);
