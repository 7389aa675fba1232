/**
 * The default config serves many users of a slow model at once: 500 clients on 500
 * sessions stream a turn each, and the upstream holds every reply after its first part
 * until all 500 are running. With nothing but the endpoint and the agent's model
 * configured, none is refused or queued: all 500 reach the upstream together, and each
 * then gets its whole reply. (A gateway capped at a few runs answered 429 to nearly all
 * of them: issue 17 point 9.)
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS } from '../../src/config/load.js';
import { TEST_TOKEN, startGateway, type TestGateway } from '../helpers/gateway.js';
import { replyFor, startPacedUpstream, type PacedUpstream } from '../helpers/paced-upstream.js';
import { readStream, streamedText } from '../helpers/read.js';

const USERS = 500;

let upstream: PacedUpstream | undefined;
let gateway: TestGateway | undefined;
afterEach(async () => {
  await gateway?.close();
  await upstream?.close();
  gateway = undefined;
  upstream = undefined;
});

describe('many users on the default config', () => {
  it(`admits ${USERS} concurrent streaming turns on distinct sessions without a 429, all running at once`, { timeout: 60_000 }, async () => {
    let openGate!: () => void;
    const gate = new Promise<void>((resolve) => {
      openGate = resolve;
    });
    upstream = await startPacedUpstream({ deltas: 4, gate });
    // What a new user writes: the endpoint on and the agent's model. No limits.
    gateway = await startGateway({
      gateway: { auth: { token: TEST_TOKEN }, http: { endpoints: { chatCompletions: { enabled: true } } } },
      models: { providers: { up: { api: 'openai-completions', baseUrl: upstream.baseUrl } } },
      agents: { defaults: { model: 'up/m' } },
    });
    expect(gateway.config.limits).toMatchObject(DEFAULT_LIMITS);

    const responses = Array.from({ length: USERS }, (_, i) =>
      fetch(`${gateway?.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TEST_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'moltbot', user: `user-${i}`, stream: true, messages: [{ role: 'user', content: `turn of user ${i}` }] }),
      }),
    );
    // Every turn reaches the upstream, held after its first part (all 500 run at once),
    // unless one is refused or fails first.
    const failure = new Promise<string>((resolve) => {
      for (const response of responses) {
        response.then(
          async (res) => res.status !== 200 && resolve(`${res.status} ${await res.text()}`),
          (err: unknown) => resolve(String(err)),
        );
      }
    });
    const first = await Promise.race([upstream.arrived(USERS).then(() => 'all running'), failure]);
    expect(first).toBe('all running');
    const answered = await Promise.all(responses);
    expect(answered.filter((res) => res.status !== 200).map((res) => res.status)).toEqual([]);
    expect(upstream.completed).toBe(0);

    openGate();
    const texts = await Promise.all(answered.map(async (res) => streamedText(await readStream(res))));
    expect(texts).toEqual(Array.from({ length: USERS }, (_, i) => replyFor(`turn of user ${i}`)));
    expect(upstream.requests).toBe(USERS);
    const sessions = await gateway.store.listSessions();
    expect(sessions).toHaveLength(USERS);
  });
});
