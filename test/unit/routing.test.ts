/**
 * src/agents/routing.ts: which agent and which session a request runs in. Its errors
 * name the turn input at fault (`agentId`, `model`, `sessionKey`); an edge names it its
 * own way (`GatewayError.named`), in `param` and in the message.
 */
import { describe, expect, it } from 'vitest';
import { resolveAgentId, resolveSessionKey } from '../../src/agents/routing.js';
import { GatewayError } from '../../src/domain/errors.js';

const KNOWN = new Set(['main', 'beta', 'a_b-1']);
const known = (id: string): boolean => KNOWN.has(id);
const route = (input: { agentId?: string; model?: string }): string => resolveAgentId(input, known, 'main');

function thrown(fn: () => unknown): GatewayError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(GatewayError);
    return err as GatewayError;
  }
  throw new Error('expected a GatewayError, nothing was thrown');
}

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';

describe('resolveAgentId', () => {
  it.each([
    [{ model: 'moltbot' }, 'main'],
    [{ model: 'gpt-4o' }, 'main'],
    [{ model: 'openai/gpt-4o' }, 'main'],
    [{ model: 'moltbot-beta' }, 'main'],
    [{ model: 'beta' }, 'main'],
    [{ model: 'moltbot:beta' }, 'beta'],
    [{ model: 'moltbot/beta' }, 'beta'],
    [{ model: 'agent:beta' }, 'beta'],
    [{ model: 'MOLTBOT:Beta' }, 'beta'],
    [{ model: 'Agent:BETA' }, 'beta'],
    [{ model: 'moltbot:main' }, 'main'],
    [{ model: 'agent:a_b-1' }, 'a_b-1'],
    [{ agentId: 'beta', model: 'moltbot:main' }, 'beta'],
    [{ agentId: 'MAIN', model: 'moltbot:beta' }, 'main'],
    [{ agentId: 'Beta', model: 'gpt-4o' }, 'beta'],
  ])('%o → %s', (input, expected) => {
    expect(route(input)).toBe(expected);
  });

  it.each([
    [{ model: 'moltbot:' }, 'model'],
    [{ model: 'agent:' }, 'model'],
    [{ model: 'moltbot/' }, 'model'],
    [{ model: 'moltbot:bad id' }, 'model'],
    [{ model: 'moltbot:-x' }, 'model'],
    [{ model: 'agent:_x' }, 'model'],
    [{ model: 'agent:b@d' }, 'model'],
    [{ model: `moltbot:${'a'.repeat(65)}` }, 'model'],
    [{ agentId: '', model: 'moltbot' }, 'agentId'],
    [{ agentId: 'bad id', model: 'moltbot' }, 'agentId'],
    [{ agentId: 'a'.repeat(65), model: 'moltbot:beta' }, 'agentId'],
  ])('a malformed id %o is a 400 invalid_agent_id naming %s', (input, field) => {
    const err = thrown(() => route(input));
    expect(err.status).toBe(400);
    expect(err.type).toBe('invalid_request_error');
    expect(err.code).toBe('invalid_agent_id');
    expect(err.field).toBe(field);
  });

  it('accepts an id of 64 characters', () => {
    const long = 'a'.repeat(64);
    expect(resolveAgentId({ model: `agent:${long}` }, (id) => id === long, 'main')).toBe(long);
  });

  it.each([
    [{ model: 'moltbot:nobody' }, 'model', 'moltbot:nobody'],
    [{ model: 'agent:Nobody' }, 'model', 'agent:Nobody'],
    [{ agentId: 'nobody', model: 'moltbot:beta' }, 'agentId', 'nobody'],
  ])('an unknown id %o is a 404 model_not_found naming %s', (input, field, requested) => {
    const err = thrown(() => route(input));
    expect(err.status).toBe(404);
    expect(err.code).toBe('model_not_found');
    expect(err.field).toBe(field);
    expect(err.message).toContain(`'${requested}'`);
  });

  it('a missing default agent is a 404 too, with or without a model', () => {
    for (const input of [{ model: 'moltbot' }, {}]) {
      const err = thrown(() => resolveAgentId(input, () => false, 'main'));
      expect(err.status).toBe(404);
      expect(err.field).toBe('model');
    }
  });

  it('an edge names the input its own way, in param and message', () => {
    const malformed = thrown(() => route({ agentId: 'b@d', model: 'moltbot' }));
    expect(malformed.message).toContain("in agentId:");
    for (const name of ['x-moltbot-agent-id', '--agent']) {
      const named = malformed.named(name);
      expect(named).toMatchObject({ status: 400, code: 'invalid_agent_id', param: name, field: undefined });
      expect(named.message).toBe(`Invalid agent id 'b@d' in ${name}: ids are 1-64 characters of a-z, 0-9, '_' and '-', starting with a letter or digit.`);
    }
    expect(thrown(() => route({ agentId: 'nobody', model: 'moltbot' })).named('--agent').param).toBe('--agent');
  });
});

describe('resolveSessionKey', () => {
  it('uses an explicit key verbatim', () => {
    expect(resolveSessionKey({ sessionKey: 'anything goes' }, 'main')).toBe('anything goes');
    expect(resolveSessionKey({ sessionKey: 'agent:main:x' }, 'main')).toBe('agent:main:x');
    // The agent prefix is canonical in lower case; the rest of the key stays as given.
    expect(resolveSessionKey({ sessionKey: 'agent:MAIN:x' }, 'main')).toBe('agent:main:x');
    expect(resolveSessionKey({ sessionKey: 'Agent:Main:Thread-X' }, 'main')).toBe('agent:main:Thread-X');
    expect(resolveSessionKey({ sessionKey: 'AGENT:main:' }, 'main')).toBe('agent:main:');
  });

  it('an explicit key wins over user', () => {
    expect(resolveSessionKey({ sessionKey: 'k', user: 'alice' }, 'main')).toBe('k');
  });

  it('refuses an explicit key naming another agent, naming the session key', () => {
    const err = thrown(() => resolveSessionKey({ sessionKey: 'agent:beta:x' }, 'main'));
    expect(err.status).toBe(400);
    expect(err.field).toBe('sessionKey');
    expect(err.named('x-moltbot-session-key').param).toBe('x-moltbot-session-key');
    expect(err.named('--session-key').message).toBe(err.message);
  });

  it('refuses another agent named in any case, and the message never names the other agent', () => {
    for (const key of ['agent:beta:x', 'Agent:beta:x', 'AGENT:BETA:x', 'agent:Beta:', 'agent:nobody:x']) {
      const err = thrown(() => resolveSessionKey({ sessionKey: key }, 'main'));
      expect(err).toMatchObject({ status: 400, code: 'session_agent_mismatch', field: 'sessionKey' });
      expect(err.message.toLowerCase()).not.toMatch(/beta|nobody/u);
      expect(err.message).toContain("'main'");
    }
  });

  it('derives agent:<id>:openai-user:<user> from user', () => {
    expect(resolveSessionKey({ user: 'alice' }, 'main')).toBe('agent:main:openai-user:alice');
    expect(resolveSessionKey({ user: 'alice' }, 'beta')).toBe('agent:beta:openai-user:alice');
  });

  it.each([{}, { user: null }, { user: '' }, { user: undefined }])('makes a fresh key per call for %o', (input) => {
    const a = resolveSessionKey(input, 'beta');
    const b = resolveSessionKey(input, 'beta');
    expect(a).toMatch(new RegExp(`^agent:beta:openai:${UUID}$`, 'u'));
    expect(b).toMatch(new RegExp(`^agent:beta:openai:${UUID}$`, 'u'));
    expect(a).not.toBe(b);
  });
});
