/**
 * Failed turns: an upstream failure is recorded as an `error` turn with the user message
 * and the error, and never becomes history for later turns.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { readCompletion, readError } from '../helpers/read.js';
import { SYSTEM_PROMPT, assistant, chat, messagesOf, reply, startCore, system, turnSummary, user, type CoreSetup } from './support.js';

let setup: CoreSetup | undefined;
afterEach(async () => {
  await setup?.close();
  setup = undefined;
});

describe('failed turns', () => {
  it('records an upstream 500 as an error turn and leaves it out of later history', async () => {
    setup = await startCore();
    const { gateway, upstream } = setup;
    const key = 'agent:main:openai-user:carol';
    upstream.behaveOnce(
      reply('a1'),
      { kind: 'status', status: 500, body: { error: { message: 'upstream exploded', type: 'server_error', param: null, code: null } } },
      reply('a3'),
    );
    await readCompletion(await chat(gateway, { user: 'carol', content: 'u1' }));

    const failed = await chat(gateway, { user: 'carol', content: 'u2 (fails)' });
    expect(failed.headers.get('x-moltbot-session-key')).toBe(key);
    const error = await readError(failed, 502);
    expect(error).toMatchObject({ type: 'upstream_error', code: 'upstream_error' });
    expect(error.message).toMatch(/500/u);

    await readCompletion(await chat(gateway, { user: 'carol', content: 'u3' }));
    expect(messagesOf(await upstream.nthRequest(3))).toEqual([system(SYSTEM_PROMPT), user('u1'), assistant('a1'), user('u3')]);

    const turns = await gateway.store.loadTurns('main', key);
    expect(turns.map(turnSummary)).toEqual([
      { status: 'ok', input: [user('u1')], reply: 'a1' },
      { status: 'error', input: [user('u2 (fails)')], reply: undefined },
      { status: 'ok', input: [user('u3')], reply: 'a3' },
    ]);
    expect(turns[1]?.error).toMatchObject({ type: 'upstream_error', code: 'upstream_error' });
    expect(turns[1]?.error?.message).toMatch(/500/u);
    expect(upstream.requests).toHaveLength(3);
  });

  it('a session whose first turn failed starts from the client conversation on its next turn', async () => {
    setup = await startCore();
    const { gateway, upstream } = setup;
    upstream.behaveOnce({ kind: 'status', status: 500, body: { error: { message: 'down', type: 'server_error', param: null, code: null } } });
    await readError(await chat(gateway, { key: 'agent:main:first-fails', content: 'hello?' }), 502);
    await readCompletion(await chat(gateway, { key: 'agent:main:first-fails', content: 'hello again' }));
    expect(messagesOf(await upstream.nthRequest(2))).toEqual([system(SYSTEM_PROMPT), user('hello again')]);
    expect((await gateway.store.loadTurns('main', 'agent:main:first-fails')).map((turn) => turn.status)).toEqual(['error', 'ok']);
  });
});
