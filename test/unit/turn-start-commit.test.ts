/**
 * A turn calls the model while its start commits, keyed or not, and nothing of it reaches
 * the caller before the start is committed (docs/decisions/0015, amended): events that
 * come sooner are held and go out once it is; a start refused for its key aborts the
 * model call and yields nothing but the 409.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createAgentCore } from '../../src/agents/core.js';
import type { AgentConfig } from '../../src/config/types.js';
import type { AgentEvent, ModelEvent } from '../../src/domain/events.js';
import { GatewayError } from '../../src/domain/errors.js';
import type { ModelProvider } from '../../src/providers/types.js';
import { openSqliteStore } from '../../src/sessions/sqlite-store.js';
import { IdempotencyKeyTaken, type SessionStore, type TurnRef } from '../../src/sessions/store.js';

const agent: AgentConfig = {
  id: 'main',
  provider: 'fast',
  model: 'm',
  systemPrompt: '',
  history: { maxTurns: 50, maxTokens: 32_000 },
  timeoutSeconds: 60,
  maxReplyBytes: 1024 * 1024,
  reset: { mode: 'never' },
};

const stores: SessionStore[] = [];
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
});

/**
 * A model that answers at once (or, `hang`, says one word and waits until its call is
 * aborted), telling how often it was called and whether each call was aborted.
 */
function fastModel(hang = false): ModelProvider & { calls: number; aborted: boolean[] } {
  const model = {
    id: 'fast',
    acceptsImages: false,
    calls: 0,
    aborted: [] as boolean[],
    async *stream(_request: unknown, options: { signal: AbortSignal }): AsyncGenerator<ModelEvent> {
      model.calls += 1;
      const at = model.aborted.push(false) - 1;
      options.signal.addEventListener('abort', () => (model.aborted[at] = true));
      yield { type: 'delta', text: 'fast ' };
      if (hang) {
        await new Promise((resolve) => options.signal.addEventListener('abort', resolve));
        throw new Error('aborted');
      }
      yield { type: 'delta', text: 'reply' };
      yield { type: 'finish', reason: 'stop' };
    },
  };
  return model as unknown as ModelProvider & { calls: number; aborted: boolean[] };
}

/** The real store, whose turn starts commit only when the test says so (or are refused). */
function gatedStore(): { store: SessionStore; commit: () => void; refuse: (err: unknown) => void; begun: Promise<void> } {
  const real = openSqliteStore(':memory:');
  stores.push(real);
  let commit!: () => void;
  let refuse!: (err: unknown) => void;
  let begun!: () => void;
  const gate = new Promise<void>((resolve, reject) => {
    commit = resolve;
    refuse = reject;
  });
  gate.catch(() => undefined);
  const store: SessionStore = Object.create(real) as SessionStore;
  store.beginTurn = (turn) => {
    const write = real.beginTurn(turn);
    begun();
    const started: Promise<TurnRef> = gate.then(() => write.started);
    started.catch(() => undefined);
    return { started, finish: async (outcome) => (await gate, write.finish(outcome)) };
  };
  return { store, commit, refuse, begun: new Promise((resolve) => (begun = resolve)) };
}

function core(store: SessionStore, model: ModelProvider) {
  return createAgentCore({
    agents: [agent],
    defaultAgentId: 'main',
    store,
    provider: () => model,
    limits: { maxConcurrent: 8, maxQueued: 8 },
    images: { maxCount: 0, maxBytes: 0, allowUrls: false, fetchTimeoutMs: 1000 },
  });
}

/**
 * Claims `key`, starts a streamed turn under it in `sessionKey` on a gated store, and reads
 * its events into `received` (`reading` settles when they end); resolves once the turn's
 * start has been written, not yet committed.
 */
async function keyedTurn(key: string, sessionKey: string, model: ReturnType<typeof fastModel>) {
  const gated = gatedStore();
  const agentCore = core(gated.store, model);
  const claimed = await agentCore.claimIdempotencyKey({ scope: 'test', key, fingerprint: 'f' });
  if (claimed.kind !== 'run') throw new Error('the key should be free');
  const turn = agentCore.startTurn({ sessionKey, input: [{ role: 'user', content: 'hi' }], idempotency: claimed.idempotency }, new AbortController().signal);
  const received: AgentEvent[] = [];
  const reading = (async () => {
    for await (const event of claimed.guard(turn.events, {})) received.push(event);
  })();
  await gated.begun;
  return { gated, received, reading };
}

describe('a turn and its start commit', () => {
  it('a keyed streamed turn calls the model before its start commits, and yields nothing until it has', async () => {
    const model = fastModel();
    const { gated, received, reading } = await keyedTurn('k1', 'agent:main:held', model);
    // The model has answered whole while the start is not committed: nothing is out.
    await new Promise((resolve) => setImmediate(resolve));
    expect(model.calls).toBe(1);
    expect(received).toEqual([]);
    gated.commit();
    await reading;
    expect(received.map((e) => e.type)).toEqual(['delta', 'delta', 'done']);
    expect((await gated.store.loadTurns('main', 'agent:main:held')).map((t) => t.status)).toEqual(['ok']);
  });

  it('a start refused for its key aborts the model call and yields only the 409', async () => {
    const model = fastModel(true);
    const { gated, received, reading } = await keyedTurn('k2', 'agent:main:refused', model);
    // The model has said its first word by now (held: the start is not committed).
    await new Promise((resolve) => setImmediate(resolve));
    expect(model.calls).toBe(1);
    gated.refuse(new IdempotencyKeyTaken('running'));
    const err = await reading.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(GatewayError);
    expect(err).toMatchObject({ code: 'idempotency_key_in_use', status: 409 });
    expect(received).toEqual([]);
    expect(model.aborted).toEqual([true]);
  });
});
