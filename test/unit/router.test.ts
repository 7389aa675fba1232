import { describe, expect, it } from 'vitest';
import { createRouter, targetPath } from '../../src/gateway/router.js';

describe('router', () => {
  const router = createRouter([]);

  it('matches exact paths, ignoring trailing slashes and method case', () => {
    expect(router.match('POST', '/v1/chat/completions')).toMatchObject({ kind: 'operation', operationId: 'createChatCompletion', secured: true });
    expect(router.match('post', '/v1/chat/completions//')).toMatchObject({ kind: 'operation', operationId: 'createChatCompletion' });
    expect(router.match('GET', '/healthz')).toMatchObject({ kind: 'operation', operationId: 'getHealth', secured: false });
  });

  it('decodes path parameters of templated paths', () => {
    expect(router.match('GET', '/v1/models/moltbot%3Amain')).toEqual({
      kind: 'operation',
      operationId: 'retrieveModel',
      route: '/v1/models/{model}',
      secured: true,
      params: { model: 'moltbot:main' },
    });
  });

  it('prefers the exact path over a template it also fits', () => {
    expect(router.match('GET', '/v1/models')).toMatchObject({ operationId: 'listModels' });
  });

  it('answers 405 with the allowed methods for a known path', () => {
    expect(router.match('GET', '/v1/chat/completions')).toEqual({ kind: 'methodNotAllowed', allow: 'POST' });
    expect(router.match('DELETE', '/v1/models/moltbot')).toEqual({ kind: 'methodNotAllowed', allow: 'GET, HEAD' });
  });

  it('answers HEAD with the GET operation', () => {
    expect(router.match('HEAD', '/healthz')).toMatchObject({ kind: 'operation', operationId: 'getHealth' });
    expect(router.match('head', '/v1/models/moltbot')).toMatchObject({ kind: 'operation', operationId: 'retrieveModel', params: { model: 'moltbot' } });
    expect(router.match('HEAD', '/v1/chat/completions')).toEqual({ kind: 'methodNotAllowed', allow: 'POST' });
  });

  it('a parameter at the end of a template takes the rest of the path, slashes included', () => {
    expect(router.match('GET', '/v1/models/moltbot/beta')).toMatchObject({ operationId: 'retrieveModel', params: { model: 'moltbot/beta' } });
    expect(router.match('GET', '/v1/models/a/b/')).toMatchObject({ operationId: 'retrieveModel', params: { model: 'a/b' } });
  });

  it('answers 404 for unknown paths and malformed escapes', () => {
    expect(router.match('GET', '/v1/nothing')).toEqual({ kind: 'notFound' });
    expect(router.match('GET', '/v1/models/%E0%A4%A')).toEqual({ kind: 'notFound' });
  });

  it('takes the path of an absolute-form target (RFC 9112 §3.2.2), without its query', () => {
    expect(targetPath('/v1/models?x=1')).toBe('/v1/models');
    expect(targetPath('http://host:8080/v1/models?x=1')).toBe('/v1/models');
    expect(targetPath('HTTPS://host/healthz#f')).toBe('/healthz');
    expect(targetPath('http://host')).toBe('/');
    expect(targetPath('http://host?x=/a')).toBe('/');
    expect(targetPath('')).toBe('/');
  });

  it('serves an operation the spec secures without the secret when told (gateway.metrics.auth: none)', () => {
    expect(router.match('GET', '/metrics')).toMatchObject({ operationId: 'getMetrics', route: '/metrics', secured: true });
    expect(createRouter([], ['getMetrics']).match('GET', '/metrics')).toMatchObject({ operationId: 'getMetrics', secured: false });
  });

  it('leaves disabled paths out entirely', () => {
    const disabled = createRouter(['createChatCompletion', 'listModels', 'retrieveModel']);
    expect(disabled.match('POST', '/v1/chat/completions')).toEqual({ kind: 'notFound' });
    expect(disabled.match('GET', '/v1/models/moltbot')).toEqual({ kind: 'notFound' });
    expect(disabled.match('GET', '/healthz')).toMatchObject({ kind: 'operation' });
  });
});
