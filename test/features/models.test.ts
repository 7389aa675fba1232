/**
 * `GET /v1/models` and `GET /v1/models/{model}`: the configured agents as OpenAI models,
 * checked against OpenAI's official schemas and ours; auth, 404s, the endpoint switch,
 * and 405 with `Allow`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authed, startFeatureGateway, type FeatureSetup } from '../helpers/features.js';
import { modelSchemaProblems } from '../helpers/model-schemas.js';
import { readError } from '../helpers/read.js';

interface ModelBody {
  id: string;
  object: string;
  created: number;
  owned_by: string;
}

async function readJson<T>(res: Response, shape: 'list' | 'model'): Promise<T> {
  const text = await res.text();
  expect(res.status, text).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/u);
  expect(res.headers.get('x-request-id')).toBeTruthy();
  const body = JSON.parse(text) as T;
  expect(modelSchemaProblems(shape, body)).toEqual([]);
  return body;
}

describe('models, endpoint enabled', () => {
  let setup: FeatureSetup;
  beforeAll(async () => {
    setup = await startFeatureGateway();
  });
  afterAll(() => setup.close());

  it('lists moltbot and moltbot:<id> for every agent in the OpenAI list shape', async () => {
    const before = Math.floor(Date.now() / 1000);
    const body = await readJson<{ object: string; data: ModelBody[] }>(await authed(setup.gateway, '/v1/models'), 'list');
    expect(body.object).toBe('list');
    expect(body.data.map((m) => m.id).sort()).toEqual(['moltbot', 'moltbot:beta', 'moltbot:main']);
    for (const model of body.data) {
      expect(model.object).toBe('model');
      expect(model.owned_by).toBe('moltbot');
      expect(Number.isInteger(model.created)).toBe(true);
      // Unix seconds, not milliseconds: the gateway started moments ago.
      expect(model.created).toBeLessThanOrEqual(before + 1);
      expect(model.created).toBeGreaterThan(before - 600);
    }
  });

  it('the validators reject a wrong shape (they can fail)', () => {
    expect(modelSchemaProblems('list', { object: 'list', data: [{ id: 'x', object: 'model' }] })).not.toEqual([]);
    expect(modelSchemaProblems('model', { id: 'x', object: 'thing', created: 1, owned_by: 'y' })).not.toEqual([]);
  });

  it('retrieves one model by id', async () => {
    const body = await readJson<ModelBody>(await authed(setup.gateway, '/v1/models/moltbot:main'), 'model');
    expect(body).toMatchObject({ id: 'moltbot:main', object: 'model', owned_by: 'moltbot' });
    const plain = await readJson<ModelBody>(await authed(setup.gateway, '/v1/models/moltbot'), 'model');
    expect(plain.id).toBe('moltbot');
  });

  it('retrieves a model whose id is percent-encoded in the path, as SDKs send it', async () => {
    // The OpenAI SDKs encode the path segment: `moltbot:beta` goes out as `moltbot%3Abeta`.
    const body = await readJson<ModelBody>(await authed(setup.gateway, `/v1/models/${encodeURIComponent('moltbot:beta')}`), 'model');
    expect(body.id).toBe('moltbot:beta');
  });

  it('answers 404 model_not_found for an unknown model', async () => {
    const error = await readError(await authed(setup.gateway, '/v1/models/moltbot:nobody'), 404);
    expect(error.code).toBe('model_not_found');
    expect(error.param).toBe('model');
    expect(error.message).toContain('moltbot:nobody');
  });

  it('needs the bearer token on both', async () => {
    for (const path of ['/v1/models', '/v1/models/moltbot:main']) {
      const none = await fetch(`${setup.gateway.url}${path}`);
      expect(none.headers.get('www-authenticate')).toBe('Bearer');
      expect((await readError(none, 401)).code).toBe('invalid_api_key');
      const wrong = await authed(setup.gateway, path, { headers: { authorization: 'Bearer nope' } });
      expect((await readError(wrong, 401)).code).toBe('invalid_api_key');
    }
  });

  it('answers POST with 405 and Allow: GET', async () => {
    for (const path of ['/v1/models', '/v1/models/moltbot:main']) {
      const res = await authed(setup.gateway, path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      expect(res.headers.get('allow')).toBe('GET, HEAD');
      expect((await readError(res, 405)).code).toBe('method_not_allowed');
    }
  });
});

describe('models, endpoint disabled', () => {
  let setup: FeatureSetup;
  beforeAll(async () => {
    setup = await startFeatureGateway({ enabled: false });
  });
  afterAll(() => setup.close());

  it('answers 404 on both paths, authenticated or not', async () => {
    for (const path of ['/v1/models', '/v1/models/moltbot:main']) {
      await readError(await authed(setup.gateway, path), 404);
      await readError(await fetch(`${setup.gateway.url}${path}`), 404);
    }
  });
});
