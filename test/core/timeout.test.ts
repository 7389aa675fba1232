/**
 * The agent run timeout (`timeoutSeconds`): a run that takes longer is ended, the client
 * gets 504 `run_timeout` (or a final error event once the stream has started), the
 * upstream request is closed and the turn is recorded `timeout`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/load.js';
import type { ConfigFile } from '../../src/config/types.js';
import { readCompletion, readError, readStream, streamedText } from '../helpers/read.js';
import { DEFAULT_REPLY, chat, hold, startCore, user, type CoreSetup } from './support.js';

let setup: CoreSetup | undefined;
afterEach(async () => {
  await setup?.close();
  setup = undefined;
});

async function startTimingOut(): Promise<CoreSetup> {
  return startCore({
    edit: (file) => {
      file.agents = { list: [{ id: 'main', model: 'up/some-model', timeoutSeconds: 0.3 }] };
    },
  });
}

describe('run timeout', () => {
  it('answers a non-streaming request with 504 run_timeout and records the turn as timeout', async () => {
    setup = await startTimingOut();
    const { gateway, upstream } = setup;
    const key = 'agent:main:timeout-json';
    // Never released.
    upstream.behaveOnce(hold(['slow']));
    const res = await chat(gateway, { key, content: 'slow please' });
    const error = await readError(res, 504);
    expect(error).toMatchObject({ code: 'run_timeout', type: 'server_error' });
    expect(error.message).toMatch(/0\.3 s/u);
    await upstream.requests[0]?.closedEarly;
    expect(upstream.requests).toHaveLength(1);
    expect(upstream.requests[0]?.closedAt).toBeTypeOf('number');

    const [turn] = await gateway.store.loadTurns('main', key);
    expect(turn).toMatchObject({ status: 'timeout', input: [user('slow please')], error: { code: 'run_timeout', type: 'server_error' } });
  });

  it('ends a started stream with the content so far, an error event run_timeout, then [DONE]', async () => {
    setup = await startTimingOut();
    const { gateway, upstream } = setup;
    const key = 'agent:main:timeout-stream';
    upstream.behaveOnce(hold(['first ', 'words']));
    const stream = await readStream(await chat(gateway, { key, content: 'stream slowly', stream: true }));
    expect(streamedText(stream)).toBe('first words');
    expect(stream.error).toMatchObject({ code: 'run_timeout', type: 'server_error' });
    expect(stream.chunks.some((chunk) => chunk.choices[0]?.finish_reason)).toBe(false);
    expect(stream.raw.trimEnd().endsWith('data: [DONE]')).toBe(true);

    const request = await upstream.nthRequest(1);
    await request.closedEarly;
    const [turn] = await gateway.store.loadTurns('main', key);
    expect(turn).toMatchObject({
      status: 'timeout',
      input: [user('stream slowly')],
      reply: { role: 'assistant', content: 'first words' },
      error: { code: 'run_timeout' },
    });
  });

  it('an upstream retry-after that would end past the run timeout is not waited out: 502 at once with its Retry-After', { timeout: 3000 }, async () => {
    setup = await startCore({
      edit: (file) => {
        file.models = { providers: { up: { api: 'openai-completions', baseUrl: providerBaseUrl(file), maxRetries: 2 } } };
        file.agents = { list: [{ id: 'main', model: 'up/some-model', timeoutSeconds: 0.3 }] };
      },
    });
    const { gateway, upstream } = setup;
    const key = 'agent:main:timeout-retry-after';
    upstream.behaveOnce({ kind: 'status', status: 429, headers: { 'retry-after': '20' }, body: { error: { message: 'slow down', type: 'requests', param: null, code: null } } });
    const res = await chat(gateway, { key, content: 'patience' });
    expect(res.headers.get('retry-after')).toBe('20');
    const error = await readError(res, 502);
    expect(error.code).toBe('upstream_error');
    expect(upstream.requests).toHaveLength(1);
    expect((await gateway.store.loadTurns('main', key)).map((turn) => turn.status)).toEqual(['error']);
  });
});

function providerBaseUrl(file: ConfigFile): string {
  const up = file.models?.providers?.up;
  if (up?.api !== 'openai-completions') throw new Error('provider up missing');
  return up.baseUrl;
}

/** Starts the gateway, or returns undefined when the config is refused (also correct). */
async function startOrRefuse(edit: (file: ConfigFile) => void): Promise<CoreSetup | undefined> {
  try {
    return await startCore({ edit });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return undefined;
  }
}

describe('timeouts beyond setTimeout range (2^31 - 1 ms, about 24.8 days)', () => {
  // Either refused at start-up or honoured; never "time out after 1 ms".
  const THIRTY_DAYS = 30 * 24 * 3600;

  it('agent timeoutSeconds: a long run limit does not end runs at once', async () => {
    setup = await startOrRefuse((file) => {
      file.agents = { list: [{ id: 'main', model: 'up/some-model', timeoutSeconds: THIRTY_DAYS }] };
    });
    if (!setup) return;
    const body = await readCompletion(await chat(setup.gateway, { content: 'long limit' }));
    expect(body.choices[0]?.message.content).toBe(DEFAULT_REPLY);
  });

  it('provider timeoutSeconds: a long upstream limit does not fail requests at once', async () => {
    setup = await startOrRefuse((file) => {
      file.models = { providers: { up: { api: 'openai-completions', baseUrl: providerBaseUrl(file), maxRetries: 0, timeoutSeconds: THIRTY_DAYS } } };
    });
    if (!setup) return;
    const body = await readCompletion(await chat(setup.gateway, { content: 'long upstream limit' }));
    expect(body.choices[0]?.message.content).toBe(DEFAULT_REPLY);
  });
});
