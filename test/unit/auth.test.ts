/**
 * src/gateway/auth.ts: the bearer check accepts exactly `Bearer <secret>`.
 */
import { describe, expect, it } from 'vitest';
import { unauthorized } from '../../src/gateway/http-errors.js';
import { createBearerCheck } from '../../src/gateway/auth.js';

const SECRET = 's3cret-Token_42';

describe('createBearerCheck', () => {
  const check = createBearerCheck(SECRET);

  it('accepts the exact secret', () => {
    expect(check(`Bearer ${SECRET}`)).toBe(true);
  });

  it('treats the scheme name case-insensitively (RFC 7235)', () => {
    expect(check(`bearer ${SECRET}`)).toBe(true);
    expect(check(`BEARER ${SECRET}`)).toBe(true);
  });

  it.each([
    ['no header', undefined],
    ['an empty header', ''],
    ['the scheme alone', 'Bearer'],
    ['the scheme and a space', 'Bearer '],
    ['the secret without a scheme', SECRET],
    ['another scheme', `Basic ${SECRET}`],
    ['a Token scheme', `Token ${SECRET}`],
    ['a prefix of the secret', `Bearer ${SECRET.slice(0, -1)}`],
    ['the secret with a suffix', `Bearer ${SECRET}x`],
    ['the secret with a prefix', `Bearer x${SECRET}`],
    ['the secret in another case', `Bearer ${SECRET.toUpperCase()}`],
    ['the secret and more words', `Bearer ${SECRET} extra`],
    ['two secrets', `Bearer ${SECRET},Bearer ${SECRET}`],
    ['no space after the scheme', `Bearer${SECRET}`],
  ])('rejects %s', (_name, header) => {
    expect(check(header)).toBe(false);
  });

  it('with an empty secret accepts nothing', () => {
    const empty = createBearerCheck('');
    for (const header of [undefined, '', 'Bearer', 'Bearer ', 'Bearer x']) expect(empty(header)).toBe(false);
  });
});

describe('unauthorized', () => {
  it('is a 401 invalid_api_key in OpenAI shape', () => {
    const err = unauthorized();
    expect(err.status).toBe(401);
    expect(err.type).toBe('invalid_request_error');
    expect(err.code).toBe('invalid_api_key');
    expect(err.param).toBeNull();
  });
});
