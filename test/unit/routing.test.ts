/**
 * src/agents/routing.ts: which agent and which session a request runs in.
 */
import { describe, expect, it } from 'vitest';
import { HTTP_SOURCES, resolveAgentId, resolveSessionKey, type RoutingSources } from '../../src/agents/routing.js';
import { GatewayError } from '../../src/errors.js';

const KNOWN = new Set(['main', 'beta', 'a_b-1']);
const known = (id: string): boolean => KNOWN.has(id);
const route = (input: { agentId?: string; model: string }, sources: RoutingSources = HTTP_SOURCES): string =>
  resolveAgentId(input, known, 'main', sources);

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
    [{ agentId: '', model: 'moltbot' }, 'x-moltbot-agent-id'],
    [{ agentId: 'bad id', model: 'moltbot' }, 'x-moltbot-agent-id'],
    [{ agentId: 'a'.repeat(65), model: 'moltbot:beta' }, 'x-moltbot-agent-id'],
  ])('a malformed id %o is a 400 naming %s', (input, param) => {
    const err = thrown(() => route(input));
    expect(err.status).toBe(400);
    expect(err.type).toBe('invalid_request_error');
    expect(err.param).toBe(param);
  });

  it('accepts an id of 64 characters', () => {
    const long = 'a'.repeat(64);
    expect(resolveAgentId({ model: `agent:${long}` }, (id) => id === long, 'main', HTTP_SOURCES)).toBe(long);
  });

  it.each([
    [{ model: 'moltbot:nobody' }, 'model', 'moltbot:nobody'],
    [{ model: 'agent:Nobody' }, 'model', 'agent:Nobody'],
    [{ agentId: 'nobody', model: 'moltbot:beta' }, 'x-moltbot-agent-id', 'nobody'],
  ])('an unknown id %o is a 404 model_not_found naming %s', (input, param, requested) => {
    const err = thrown(() => route(input));
    expect(err.status).toBe(404);
    expect(err.code).toBe('model_not_found');
    expect(err.param).toBe(param);
    expect(err.message).toContain(`'${requested}'`);
  });

  it('a missing default agent is a 404 too', () => {
    const err = thrown(() => resolveAgentId({ model: 'moltbot' }, () => false, 'main', HTTP_SOURCES));
    expect(err.status).toBe(404);
    expect(err.param).toBe('model');
  });

  it('names the caller-given source of an explicit id', () => {
    const cli = { agentId: '--agent', sessionKey: '--session-key' };
    expect(thrown(() => route({ agentId: 'nobody', model: 'moltbot' }, cli)).param).toBe('--agent');
    expect(thrown(() => route({ agentId: 'b@d', model: 'moltbot' }, cli)).param).toBe('--agent');
  });
});

describe('resolveSessionKey', () => {
  it('uses an explicit key verbatim', () => {
    expect(resolveSessionKey({ sessionKey: 'anything goes' }, 'main', HTTP_SOURCES)).toBe('anything goes');
    expect(resolveSessionKey({ sessionKey: 'agent:main:x' }, 'main', HTTP_SOURCES)).toBe('agent:main:x');
    // The agent prefix is canonical in lower case; the rest of the key stays as given.
    expect(resolveSessionKey({ sessionKey: 'agent:MAIN:x' }, 'main', HTTP_SOURCES)).toBe('agent:main:x');
    expect(resolveSessionKey({ sessionKey: 'Agent:Main:Thread-X' }, 'main', HTTP_SOURCES)).toBe('agent:main:Thread-X');
    expect(resolveSessionKey({ sessionKey: 'AGENT:main:' }, 'main', HTTP_SOURCES)).toBe('agent:main:');
  });

  it('an explicit key wins over user', () => {
    expect(resolveSessionKey({ sessionKey: 'k', user: 'alice' }, 'main', HTTP_SOURCES)).toBe('k');
  });

  it('refuses an explicit key naming another agent, with the source as param', () => {
    const err = thrown(() => resolveSessionKey({ sessionKey: 'agent:beta:x' }, 'main', HTTP_SOURCES));
    expect(err.status).toBe(400);
    expect(err.param).toBe('x-moltbot-session-key');
    const cli = thrown(() => resolveSessionKey({ sessionKey: 'agent:main:x' }, 'beta', { agentId: '--agent', sessionKey: '--session-key' }));
    expect(cli.param).toBe('--session-key');
  });

  it('refuses another agent named in any case, and the message never names the other agent', () => {
    for (const key of ['agent:beta:x', 'Agent:beta:x', 'AGENT:BETA:x', 'agent:Beta:', 'agent:nobody:x']) {
      const err = thrown(() => resolveSessionKey({ sessionKey: key }, 'main', HTTP_SOURCES));
      expect(err).toMatchObject({ status: 400, code: 'session_agent_mismatch', param: 'x-moltbot-session-key' });
      expect(err.message.toLowerCase()).not.toMatch(/beta|nobody/u);
      expect(err.message).toContain("'main'");
    }
  });

  it('derives agent:<id>:openai-user:<user> from user', () => {
    expect(resolveSessionKey({ user: 'alice' }, 'main', HTTP_SOURCES)).toBe('agent:main:openai-user:alice');
    expect(resolveSessionKey({ user: 'alice' }, 'beta', HTTP_SOURCES)).toBe('agent:beta:openai-user:alice');
  });

  it.each([{}, { user: null }, { user: '' }, { user: undefined }])('makes a fresh key per call for %o', (input) => {
    const a = resolveSessionKey(input, 'beta', HTTP_SOURCES);
    const b = resolveSessionKey(input, 'beta', HTTP_SOURCES);
    expect(a).toMatch(new RegExp(`^agent:beta:openai:${UUID}$`, 'u'));
    expect(b).toMatch(new RegExp(`^agent:beta:openai:${UUID}$`, 'u'));
    expect(a).not.toBe(b);
  });
});
