/**
 * Which agent answers: `x-moltbot-agent-id` wins over `model`; `model` may name an agent
 * as `moltbot:<id>`, `moltbot/<id>` or `agent:<id>`; anything else means `main`.
 * `main` runs on echo (it repeats the last user message), `beta` on the fake upstream
 * (it answers "Hello from upstream"), and the store records the agent of each turn.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { postChat } from '../helpers/gateway.js';
import { readCompletion, readError, readStream, streamedText } from '../helpers/read.js';
import { startTwoAgentGateway, type TwoAgentSetup } from '../helpers/scenarios.js';
import { keyAgent } from '../helpers/keys.js';

const ECHOED = 'which agent are you';
const UPSTREAM_REPLY = 'Hello from upstream';
const messages = [{ role: 'user', content: ECHOED }];

let setup: TwoAgentSetup;
beforeEach(async () => {
  setup = await startTwoAgentGateway();
});
afterEach(() => setup.close());

/** Runs one turn and reports who answered, by reply, by session key and by the store. */
async function whoAnswers(model: string, headers: Record<string, string> = {}): Promise<'main' | 'beta'> {
  const { gateway, upstream } = setup;
  const before = upstream.requests.length;
  const res = await postChat(gateway, { model, messages }, headers);
  const sessionKey = res.headers.get('x-moltbot-session-key');
  const body = await readCompletion(res);
  expect(body.model).toBe(model);
  expect(sessionKey).not.toBeNull();
  const turns = await gateway.store.loadTurns(keyAgent(sessionKey as string), sessionKey as string);
  expect(turns).toHaveLength(1);
  const agentId = turns[0]?.agentId;
  const content = body.choices[0]?.message.content;
  if (agentId === 'beta') {
    expect(content).toBe(UPSTREAM_REPLY);
    expect(upstream.requests.length).toBe(before + 1);
    expect(sessionKey).toMatch(/^agent:beta:/u);
    return 'beta';
  }
  expect(agentId).toBe('main');
  expect(content).toBe(ECHOED);
  expect(upstream.requests.length).toBe(before);
  expect(sessionKey).toMatch(/^agent:main:/u);
  return 'main';
}

describe('the model field', () => {
  it.each(['moltbot:beta', 'moltbot/beta', 'agent:beta'])('%s routes to beta', async (model) => {
    expect(await whoAnswers(model)).toBe('beta');
  });

  it.each(['moltbot:main', 'moltbot/main', 'agent:main'])('%s routes to main', async (model) => {
    expect(await whoAnswers(model)).toBe('main');
  });

  it.each(['moltbot', 'gpt-4o', 'openai/gpt-4o', 'beta', 'moltbot-beta'])('%s means the default agent main', async (model) => {
    expect(await whoAnswers(model)).toBe('main');
  });

  it.each(['moltbot:Beta', 'MOLTBOT:BETA', 'Agent:beta', 'moltbot/BETA'])('%s is case-insensitive', async (model) => {
    expect(await whoAnswers(model)).toBe('beta');
  });
});

describe('the x-moltbot-agent-id header', () => {
  it('wins over the model field', async () => {
    expect(await whoAnswers('moltbot:main', { 'x-moltbot-agent-id': 'beta' })).toBe('beta');
    expect(await whoAnswers('moltbot:beta', { 'x-moltbot-agent-id': 'main' })).toBe('main');
  });

  it('is case-insensitive', async () => {
    expect(await whoAnswers('moltbot:beta', { 'x-moltbot-agent-id': 'MAIN' })).toBe('main');
    expect(await whoAnswers('moltbot', { 'x-moltbot-agent-id': 'Beta' })).toBe('beta');
  });

  it('also routes streaming requests', async () => {
    const { gateway, upstream } = setup;
    const res = await postChat(gateway, { model: 'moltbot', stream: true, messages }, { 'x-moltbot-agent-id': 'beta' });
    expect(res.headers.get('x-moltbot-session-key')).toMatch(/^agent:beta:openai:/u);
    expect(streamedText(await readStream(res))).toBe(UPSTREAM_REPLY);
    expect(upstream.requests).toHaveLength(1);
  });
});

describe('bad agent ids', () => {
  async function expectRefused(
    model: string,
    headers: Record<string, string>,
    status: number,
    param: string,
    code: string | null,
  ): Promise<void> {
    const { gateway, upstream } = setup;
    const res = await postChat(gateway, { model, messages, user: 'router-probe' }, headers);
    expect(res.headers.get('x-moltbot-session-key')).toBeNull();
    const error = await readError(res, status);
    expect(error.param).toBe(param);
    expect(error.type).toBe('invalid_request_error');
    if (code !== null) expect(error.code).toBe(code);
    expect(upstream.requests).toHaveLength(0);
    expect(await gateway.store.loadTurns('main', 'agent:main:openai-user:router-probe')).toEqual([]);
    expect(await gateway.store.loadTurns('beta', 'agent:beta:openai-user:router-probe')).toEqual([]);
  }

  it.each(['moltbot:', 'agent:', 'moltbot:bad id', 'moltbot:-beta', 'agent:b@d', `moltbot:${'a'.repeat(65)}`])(
    'a malformed id in model (%s) is a 400 naming model',
    async (model) => {
      await expectRefused(model, {}, 400, 'model', null);
    },
  );

  it.each(['bad id', '-beta', 'b@d', 'a'.repeat(65)])('a malformed id in the header (%s) is a 400 naming the header', async (id) => {
    await expectRefused('moltbot:beta', { 'x-moltbot-agent-id': id }, 400, 'x-moltbot-agent-id', null);
  });

  it('an unknown id in model is a 404 model_not_found naming model, and no agent is created', async () => {
    for (let i = 0; i < 2; i++) {
      await expectRefused('moltbot:nobody', {}, 404, 'model', 'model_not_found');
      expect(await setup.gateway.store.loadTurns('nobody', 'agent:nobody:openai-user:router-probe')).toEqual([]);
    }
  });

  it('an unknown id in the header is a 404 model_not_found naming the header', async () => {
    await expectRefused('moltbot:beta', { 'x-moltbot-agent-id': 'nobody' }, 404, 'x-moltbot-agent-id', 'model_not_found');
    await expectRefused('moltbot', { 'x-moltbot-agent-id': 'Nobody' }, 404, 'x-moltbot-agent-id', 'model_not_found');
  });

  it('a 404 message names the requested model', async () => {
    const error = await readError(await postChat(setup.gateway, { model: 'agent:ghost', messages }), 404);
    expect(error.message).toContain('agent:ghost');
  });
});
