/**
 * SSE keep-alive: after `gateway.http.sseKeepAliveSeconds` without a byte, a stream gets
 * a `: keep-alive` comment, between events and before the first one (which commits the
 * response to 200 text/event-stream); the stream still ends properly. The upstream holds
 * its reply until the test releases it; the test waits for the comment itself.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sessionKeyOf, startFeatureGateway, type FeatureSetup } from '../helpers/features.js';
import { postChat } from '../helpers/gateway.js';
import { streamedText } from '../helpers/read.js';
import { KEEP_ALIVE, rawSse, readRawStream, splitComments } from '../helpers/raw-sse.js';
import { keyAgent } from '../helpers/keys.js';

let setup: FeatureSetup;
beforeEach(async () => {
  setup = await startFeatureGateway({ http: { sseKeepAliveSeconds: 0.05 } });
});
afterEach(() => setup.close());

const ask = { model: 'moltbot:beta', stream: true, messages: [{ role: 'user', content: 'think slowly' }] };

describe('keep-alive', () => {
  it('sends : keep-alive between events while the upstream holds, then ends the stream properly', async () => {
    setup.upstream.behave({ kind: 'hold', deltas: ['Hello', ' there'], rest: [' world'] });
    const res = await postChat(setup.gateway, ask);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const sse = rawSse(res);
    // A comment after the held deltas have arrived: between events.
    await sse.waitFor((raw) => raw.includes('" there"') && raw.indexOf(KEEP_ALIVE, raw.indexOf('" there"')) >= 0);
    setup.upstream.release();
    const raw = await sse.ended;
    const afterDeltas = raw.slice(raw.indexOf('" there"'));
    expect(afterDeltas).toContain(KEEP_ALIVE);
    // Comments sit between whole events, never inside one.
    expect(raw).toMatch(/\n\n: keep-alive\n\n/u);
    const stream = await readRawStream(res, raw);
    expect(streamedText(stream)).toBe('Hello there world');
    expect(stream.chunks.at(-1)?.choices[0]?.finish_reason).toBe('stop');
    expect(splitComments(raw).comments).toBeGreaterThanOrEqual(1);
    const [turn] = await setup.gateway.store.loadTurns(keyAgent(sessionKeyOf(res)), sessionKeyOf(res));
    expect(turn).toMatchObject({ status: 'ok', reply: { content: 'Hello there world' } });
  });

  it('before the first content a keep-alive commits the response to 200 text/event-stream', async () => {
    setup.upstream.behave({ kind: 'hold', deltas: [], rest: ['late', ' reply'] });
    // fetch resolves on the response head, which only a keep-alive can send here.
    const res = await postChat(setup.gateway, ask);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    expect(res.headers.get('x-moltbot-session-key')).toBeTruthy();
    const sse = rawSse(res);
    const first = await sse.waitFor((raw) => raw.length >= KEEP_ALIVE.length);
    expect(first.startsWith(KEEP_ALIVE)).toBe(true);
    expect(first).not.toContain('data:');
    // The comment can go out before the request reaches the upstream (a loaded machine):
    // only a reply already held is released.
    await setup.upstream.nthRequest(1);
    setup.upstream.release();
    const raw = await sse.ended;
    const stream = await readRawStream(res, raw);
    expect(streamedText(stream)).toBe('late reply');
    expect(stream.chunks[0]?.choices[0]?.delta).toEqual({ role: 'assistant', content: '' });
    expect(stream.chunks.at(-1)?.choices[0]?.finish_reason).toBe('stop');
  });

  it('a run that fails after a keep-alive ends with an error event and [DONE], not a cut connection', async () => {
    await setup.close();
    setup = await startFeatureGateway({ http: { sseKeepAliveSeconds: 0.05 }, betaTimeoutSeconds: 0.5 });
    setup.upstream.behave({ kind: 'hold', deltas: [] });
    const res = await postChat(setup.gateway, ask);
    expect(res.status).toBe(200);
    const sse = rawSse(res);
    const raw = await sse.ended;
    expect(raw.startsWith(KEEP_ALIVE)).toBe(true);
    const stream = await readRawStream(res, raw);
    expect(stream.error?.code).toBe('run_timeout');
    expect((await setup.gateway.store.loadTurns(keyAgent(sessionKeyOf(res)), sessionKeyOf(res)))[0]?.status).toBe('timeout');
  });

  it('a quick reply has no comment at all', async () => {
    await setup.close();
    // Long keep-alive interval: the echo reply is written well within it.
    setup = await startFeatureGateway({ http: { sseKeepAliveSeconds: 30 } });
    const res = await postChat(setup.gateway, { model: 'moltbot', stream: true, messages: [{ role: 'user', content: 'quick' }] });
    const raw = await rawSse(res).ended;
    expect(raw).not.toContain(': keep-alive');
    expect(streamedText(await readRawStream(res, raw))).toBe('quick');
  });
});
