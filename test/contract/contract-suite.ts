/**
 * One contract suite, run against several targets (the real server, Prism's mock of
 * openapi.yaml, the real server behind Prism's validating proxy). Every response body is
 * checked by the read helpers against our spec and OpenAI's official schema.
 */
import { describe, expect, it } from 'vitest';
import { openapiDocument } from '../../generated/openapi-document.js';
import { validateHealth } from '../../generated/validators/index.js';
import { readCompletion, readError, readStream, streamedText } from '../helpers/read.js';
import { curlBody, curlHeaders, pageCurlExamples } from './page-examples.js';

export interface ContractTarget {
  url: string;
  token: string;
  /** A request without a bearer token gets the spec's 401 error body from the target. */
  enforcesAuth: boolean;
  /** A request with the wrong token is refused (Prism's mock accepts any token). */
  checksToken: boolean;
  /** An invalid request body gets the spec's 400 error body from the target. */
  validatesRequests: boolean;
  /** The target knows which agents exist (404 `model_not_found` for others). */
  knowsAgents: boolean;
  /** 200s carry the real session key (`agent:main:...`) in `x-moltbot-session-key`. */
  issuesSessionKeys: boolean;
  /** Called with a clone of every response before the case reads it (e.g. to reject Prism violations). */
  inspect?: (res: Response) => Promise<void>;
}

type Capability = 'enforcesAuth' | 'checksToken' | 'validatesRequests' | 'knowsAgents';

const SESSION_KEY = new RegExp(openapiDocument.components.schemas.SessionKey.pattern, 'u');

/** The page's examples: bodies and headers, with the placeholder token replaced. */
function pageRequest(argv: string[], token: string): { body: Record<string, unknown>; headers: Record<string, string> } {
  const headers = curlHeaders(argv);
  expect(headers.authorization).toBe('Bearer YOUR_TOKEN');
  return { body: curlBody(argv), headers: { ...headers, authorization: `Bearer ${token}` } };
}

export function defineContractSuite(name: string, getTarget: () => ContractTarget): void {
  const examples = pageCurlExamples();

  async function send(path: string, init: RequestInit): Promise<Response> {
    const target = getTarget();
    const res = await fetch(`${target.url}${path}`, init);
    await target.inspect?.(res.clone());
    return res;
  }

  const chat = (body: unknown, headers: Record<string, string>): Promise<Response> =>
    send('/v1/chat/completions', { method: 'POST', headers, body: JSON.stringify(body) });

  const authorized = (): Record<string, string> => ({
    authorization: `Bearer ${getTarget().token}`,
    'content-type': 'application/json',
  });

  /** Skips the case (reported as skipped) when the target lacks the capability. */
  const requires = (capability: Capability, skip: (condition: boolean, note?: string) => void): void => {
    skip(!getTarget()[capability], `target does not have ${capability}`);
  };

  function checkSessionKey(res: Response): void {
    const key = res.headers.get('x-moltbot-session-key');
    if (getTarget().issuesSessionKeys) {
      expect(key, 'x-moltbot-session-key on a 200').toMatch(/^agent:main:/u);
    }
    if (key !== null) expect(key).toMatch(SESSION_KEY);
  }

  describe(`contract: ${name}`, () => {
    it("answers the page's non-streaming example with a chat.completion", async () => {
      const { body, headers } = pageRequest(examples.nonStreaming, getTarget().token);
      expect(body.stream).toBeUndefined();
      const res = await chat(body, headers);
      checkSessionKey(res);
      const completion = await readCompletion(res);
      expect(completion.object).toBe('chat.completion');
      expect(completion.model).toBe(body.model);
      expect(completion.choices).toHaveLength(1);
      expect(completion.choices[0]?.finish_reason).toBe('stop');
      expect(completion.choices[0]?.message.content).toEqual(expect.stringMatching(/\S/u));
    });

    it("streams the page's streaming example as SSE ending in [DONE]", async () => {
      const { body, headers } = pageRequest(examples.streaming, getTarget().token);
      expect(body.stream).toBe(true);
      const res = await chat(body, { ...headers, accept: 'text/event-stream' });
      checkSessionKey(res);
      // readStream: each event one `data:` line, [DONE] last, every chunk valid, same id/created.
      const stream = await readStream(res);
      expect(stream.error).toBeUndefined();
      expect(stream.raw.trimEnd().endsWith('data: [DONE]')).toBe(true);
      expect(stream.chunks.length).toBeGreaterThanOrEqual(2);
      expect(stream.chunks[0]?.choices[0]?.delta.role).toBe('assistant');
      for (const chunk of stream.chunks) expect(chunk.model).toBe(body.model);
      const withChoices = stream.chunks.filter((c) => c.choices.length > 0);
      const finals = withChoices.filter((c) => c.choices[0]?.finish_reason != null);
      expect(finals, 'exactly one chunk carries a finish_reason').toHaveLength(1);
      expect(withChoices.at(-1), 'the finish_reason chunk is the last with a choice').toBe(finals[0]);
      expect(finals[0]?.choices[0]?.finish_reason).toBe('stop');
      expect(streamedText(stream)).toMatch(/\S/u);
    });

    it('answers GET /healthz with {status: "ok"} without auth', async () => {
      const res = await send('/healthz', { method: 'GET' });
      const text = await res.text();
      expect(res.status, text).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/u);
      const body: unknown = JSON.parse(text);
      expect(validateHealth(body), JSON.stringify(validateHealth.errors)).toBe(true);
      expect(body).toEqual({ status: 'ok' });
    });

    it('answers GET /readyz with {status: "ready"} without auth', async () => {
      const res = await send('/readyz', { method: 'GET' });
      const text = await res.text();
      expect(res.status, text).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/u);
      expect(JSON.parse(text)).toEqual({ status: 'ready' });
    });

    it('serves GET /metrics as Prometheus text with the token', async () => {
      const res = await send('/metrics', { method: 'GET', headers: { authorization: `Bearer ${getTarget().token}` } });
      const text = await res.text();
      expect(res.status, text).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain/u);
      expect(text).toMatch(/^# (HELP|TYPE) moltbot_/mu);
    });

    it('refuses a request without a bearer token with 401', async ({ skip }) => {
      requires('enforcesAuth', skip);
      const { body } = pageRequest(examples.nonStreaming, '');
      const error = await readError(await chat(body, { 'content-type': 'application/json' }), 401);
      expect(error.type).toBe('invalid_request_error');
      expect(error.code).toBe('invalid_api_key');
      expect(error.param).toBeNull();
    });

    it('refuses a wrong bearer token with 401', async ({ skip }) => {
      requires('checksToken', skip);
      const { body } = pageRequest(examples.nonStreaming, '');
      const error = await readError(
        await chat(body, { authorization: `Bearer not-${getTarget().token}`, 'content-type': 'application/json' }),
        401,
      );
      expect(error.code).toBe('invalid_api_key');
      expect(error.message).not.toContain(getTarget().token);
    });

    it('refuses an invalid body (messages: []) with 400 naming the param', async ({ skip }) => {
      requires('validatesRequests', skip);
      const error = await readError(await chat({ model: 'moltbot', messages: [] }, authorized()), 400);
      expect(error.type).toBe('invalid_request_error');
      // The real server says `messages`; Prism's mock serves the spec's example (`messages[0].role`).
      expect(error.param).toMatch(/^messages/u);
    });

    it('answers an unknown agent (model "moltbot:nobody") with 404 model_not_found', async ({ skip }) => {
      requires('knowsAgents', skip);
      const error = await readError(
        await chat({ model: 'moltbot:nobody', messages: [{ role: 'user', content: 'hi' }] }, authorized()),
        404,
      );
      expect(error.type).toBe('invalid_request_error');
      expect(error.code).toBe('model_not_found');
      expect(error.param).toBe('model');
      expect(error.message).toContain('nobody');
    });
  });
}
