/**
 * `session.maxStoreBytes`: the operator's cap on the store. Past it a turn is refused
 * with 507 `storage_full` in OpenAI's error shape (never a generic 500), nothing of the
 * refused turn is kept, the gateway keeps serving reads, and once pruning frees room it
 * takes turns again.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { baseConfig, postChat, startGateway, type TestGateway } from '../helpers/gateway.js';
import { readCompletion, readError } from '../helpers/read.js';

const user = (content: string): { role: 'user'; content: string } => ({ role: 'user', content });

let gateway: TestGateway | undefined;
afterEach(async () => {
  await gateway?.close();
  gateway = undefined;
});

describe('session.maxStoreBytes', () => {
  it('refuses turns with 507 storage_full once the store is at its cap, and keeps serving reads', async () => {
    const file = baseConfig();
    file.session = { maxStoreBytes: 256 * 1024 };
    gateway = await startGateway(file);
    const key = 'agent:main:capped';
    const chunk = 'y'.repeat(16 * 1024);
    let refused: Response | undefined;
    let accepted = 0;
    // 256 KiB hold at most 16 turns of 16 KiB (each stored twice: input, echoed reply).
    for (let i = 0; i < 40 && !refused; i += 1) {
      const res = await postChat(gateway, { model: 'moltbot', messages: [user(`${i} ${chunk}`)] }, { 'x-moltbot-session-key': key });
      if (res.status === 200) {
        await readCompletion(res);
        accepted += 1;
      } else {
        refused = res;
      }
    }
    expect(accepted).toBeGreaterThan(0);
    expect(accepted).toBeLessThan(16);
    const error = await readError(refused as Response, 507);
    expect(error).toMatchObject({ type: 'server_error', code: 'storage_full', param: null });
    expect(error.message).toMatch(/session storage is full/u);
    // A stream is refused the same way, before it starts (its input alone is larger than the whole refused turn).
    const streamed = await postChat(gateway, { model: 'moltbot', stream: true, messages: [user(`streamed ${chunk.repeat(3)}`)] }, { 'x-moltbot-session-key': key });
    expect((await readError(streamed, 507)).code).toBe('storage_full');

    // Reads go on: health, models, and the transcript, which holds only the accepted turns.
    expect((await fetch(`${gateway.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${gateway.url}/v1/models`, { headers: { authorization: `Bearer ${gateway.token}` } })).status).toBe(200);
    const turns = await gateway.store.loadTurns('main', key);
    expect(turns.map((t) => t.status)).toEqual(Array.from({ length: accepted }, () => 'ok'));

    // Pruning makes room: the same process takes turns again, no restart.
    expect((await gateway.store.prune({ olderThan: { explicit: 0 } })).sessions).toBe(1);
    const after = await postChat(gateway, { model: 'moltbot', messages: [user(`again ${chunk}`)] }, { 'x-moltbot-session-key': key });
    expect((await readCompletion(after)).choices[0]?.message.content).toBe(`again ${chunk}`);
  });
});
