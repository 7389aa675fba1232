/**
 * Client disconnects: the run stops, the upstream request is closed, and the turn is
 * recorded `aborted` with the user message and whatever reply had streamed.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { readCompletion } from '../helpers/read.js';
import { DEFAULT_REPLY, SYSTEM_PROMPT, chat, hold, messagesOf, readStreamUntil, startCore, system, user, type CoreSetup } from './support.js';

let setup: CoreSetup | undefined;
afterEach(async () => {
  await setup?.close();
  setup = undefined;
});

/** Sanity bound only: the close should propagate in milliseconds, never seconds. */
const SANITY_MS = 2000;

describe('client disconnect', () => {
  it('mid-stream: closes the upstream request and records the turn aborted with the partial reply', async () => {
    setup = await startCore();
    const { gateway, upstream } = setup;
    const key = 'agent:main:cancel-stream';
    upstream.behaveOnce(hold(['partial', ' reply'], [' never sent']));
    const client = new AbortController();
    const res = await chat(gateway, { key, content: 'tell me', stream: true, signal: client.signal });
    const request = await upstream.nthRequest(1);
    expect(await readStreamUntil(res, (text) => text === 'partial reply')).toBe('partial reply');

    const abortedAt = performance.now();
    client.abort();
    await request.closedEarly;
    const delay = (request.closedAt as number) - abortedAt;
    console.log(`[cancellation] streaming client abort -> upstream request closed: ${delay.toFixed(1)} ms`);
    expect(delay).toBeLessThan(SANITY_MS);

    // The next turn of the key waits in the lane until the aborted one is recorded; only
    // `ok` turns are history, so it sees none.
    await readCompletion(await chat(gateway, { key, content: 'again' }));
    expect(messagesOf(await upstream.nthRequest(2))).toEqual([system(SYSTEM_PROMPT), user('again')]);
    const turns = await gateway.store.loadTurns('main', key);
    expect(turns[0]).toMatchObject({ status: 'aborted', input: [user('tell me')], reply: { role: 'assistant', content: 'partial reply' } });
    expect(turns[0]?.endedAt).toBeTypeOf('number');
    expect(turns[1]).toMatchObject({ status: 'ok', reply: { content: DEFAULT_REPLY } });
    expect(upstream.requests).toHaveLength(2);
  });

  it('while a non-streaming client waits: closes the upstream request and records the turn aborted', async () => {
    setup = await startCore();
    const { gateway, upstream } = setup;
    const key = 'agent:main:cancel-json';
    upstream.behaveOnce(hold(['partial'], [' never sent']));
    const client = new AbortController();
    const pending = chat(gateway, { key, content: 'wait for it', signal: client.signal });
    const request = await upstream.nthRequest(1);

    const abortedAt = performance.now();
    client.abort();
    await expect(pending).rejects.toThrow();
    await request.closedEarly;
    const delay = (request.closedAt as number) - abortedAt;
    console.log(`[cancellation] non-streaming client abort -> upstream request closed: ${delay.toFixed(1)} ms`);
    expect(delay).toBeLessThan(SANITY_MS);

    await readCompletion(await chat(gateway, { key, content: 'again' }));
    const [turn] = await gateway.store.loadTurns('main', key);
    expect(turn).toMatchObject({ status: 'aborted', input: [user('wait for it')] });
    // Absent, or what had streamed from the upstream by then.
    expect(['', 'partial']).toContain(turn?.reply?.content ?? '');
    expect(turn?.error).toBeUndefined();
  });

  it('while the provider waits out an upstream retry-after: the run ends at once and no retry is sent', { timeout: 3000 }, async () => {
    setup = await startCore({
      edit: (file) => {
        const up = file.models?.providers?.up;
        if (up?.api !== 'openai-completions') throw new Error('provider up missing');
        file.models = { providers: { up: { ...up, maxRetries: 2 } } };
      },
    });
    const { gateway, upstream } = setup;
    const key = 'agent:main:cancel-retry-wait';
    upstream.behaveOnce({ kind: 'status', status: 429, headers: { 'retry-after': '20' }, body: { error: { message: 'slow down', type: 'requests', param: null, code: null } } });
    const client = new AbortController();
    const pending = chat(gateway, { key, content: 'will leave', signal: client.signal });
    await upstream.nthRequest(1);
    client.abort();
    await expect(pending).rejects.toThrow();

    // The key's next turn runs as soon as the abandoned one has been recorded.
    await readCompletion(await chat(gateway, { key, content: 'again' }));
    expect((await gateway.store.loadTurns('main', key)).map((turn) => turn.status)).toEqual(['aborted', 'ok']);
    expect(upstream.requests.map((request) => (messagesOf(request).at(-1) as { content: string }).content)).toEqual(['will leave', 'again']);
  });
});
