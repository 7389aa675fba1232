/**
 * Session reset through HTTP with an injected clock: an expired transcript is not
 * continued (the model gets no history, a new transcript starts, the old one stays
 * readable); `idle` and `daily` policies, and per-agent policies over the global one.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ConfigFile } from '../../src/config/types.js';
import { readCompletion } from '../helpers/read.js';
import { DEFAULT_REPLY, SYSTEM_PROMPT, assistant, chat, messagesOf, startCore, system, turnSummary, user, type CoreSetup } from './support.js';

let setup: CoreSetup | undefined;
afterEach(async () => {
  await setup?.close();
  setup = undefined;
});

const MINUTE = 60_000;

/** A controllable clock for the core. */
function clock(start: Date): { now: () => number; set(to: Date | number): void; advance(ms: number): void } {
  let current = start.getTime();
  return {
    now: () => current,
    set(to) {
      current = typeof to === 'number' ? to : to.getTime();
    },
    advance(ms) {
      current += ms;
    },
  };
}

function withReset(reset: NonNullable<ConfigFile['session']>['reset']): (file: ConfigFile) => void {
  return (file) => {
    file.session = { reset };
  };
}

async function turn(content: string, options: { user?: string; agent?: string } = {}): Promise<void> {
  const { gateway } = setup as CoreSetup;
  await readCompletion(await chat(gateway, { user: options.user ?? 'alice', content, ...(options.agent ? { agent: options.agent } : {}) }));
}

const KEY = 'agent:main:openai-user:alice';
const continued = (previous: string, next: string): unknown[] => [system(SYSTEM_PROMPT), user(previous), assistant(DEFAULT_REPLY), user(next)];
const fresh = (next: string): unknown[] => [system(SYSTEM_PROMPT), user(next)];

describe('session reset', () => {
  it('idle: after more than idleMinutes a new transcript starts; the old one stays readable', async () => {
    const time = clock(new Date(2025, 0, 15, 12, 0));
    setup = await startCore({ now: time.now, edit: withReset({ mode: 'idle', idleMinutes: 10 }) });
    const { gateway, upstream } = setup;

    await turn('first');
    time.advance(11 * MINUTE);
    await turn('after a break');
    expect(messagesOf(await upstream.nthRequest(2))).toEqual(fresh('after a break'));

    const history = await gateway.store.sessionHistory(KEY);
    expect(history).toHaveLength(2);
    expect(history.map(({ turns }) => turns.map(turnSummary))).toEqual([
      [{ status: 'ok', input: [user('first')], reply: DEFAULT_REPLY }],
      [{ status: 'ok', input: [user('after a break')], reply: DEFAULT_REPLY }],
    ]);
    expect(history[0]?.session.id).not.toBe(history[1]?.session.id);
    expect((await gateway.store.loadTurns('main', KEY)).map(turnSummary)).toEqual([{ status: 'ok', input: [user('after a break')], reply: DEFAULT_REPLY }]);
    expect((await gateway.store.currentSession('main', KEY))?.id).toBe(history[1]?.session.id);
  });

  it('idle: within idleMinutes the transcript continues', async () => {
    const time = clock(new Date(2025, 0, 15, 12, 0));
    setup = await startCore({ now: time.now, edit: withReset({ mode: 'idle', idleMinutes: 10 }) });
    const { gateway, upstream } = setup;
    await turn('first');
    time.advance(9 * MINUTE);
    await turn('soon after');
    expect(messagesOf(await upstream.nthRequest(2))).toEqual(continued('first', 'soon after'));
    expect(await gateway.store.sessionHistory(KEY)).toHaveLength(1);
    expect(await gateway.store.loadTurns('main', KEY)).toHaveLength(2);
  });

  it('daily: a turn after the local atHour boundary starts a new transcript', async () => {
    const time = clock(new Date(2025, 0, 15, 3, 30));
    setup = await startCore({ now: time.now, edit: withReset({ mode: 'daily', atHour: 4 }) });
    const { gateway, upstream } = setup;
    await turn('before dawn');
    time.set(new Date(2025, 0, 15, 4, 30));
    await turn('after dawn');
    expect(messagesOf(await upstream.nthRequest(2))).toEqual(fresh('after dawn'));
    expect(await gateway.store.sessionHistory(KEY)).toHaveLength(2);
    expect((await gateway.store.loadTurns('main', KEY)).map((t) => t.input)).toEqual([[user('after dawn')]]);
  });

  it('daily: two turns on the same day after the boundary share the transcript', async () => {
    const time = clock(new Date(2025, 0, 15, 4, 30));
    setup = await startCore({ now: time.now, edit: withReset({ mode: 'daily', atHour: 4 }) });
    const { gateway, upstream } = setup;
    await turn('morning');
    time.set(new Date(2025, 0, 15, 23, 59));
    await turn('late evening');
    expect(messagesOf(await upstream.nthRequest(2))).toEqual(continued('morning', 'late evening'));
    expect(await gateway.store.sessionHistory(KEY)).toHaveLength(1);
    // ... and past midnight, before the next boundary, still the same transcript.
    time.set(new Date(2025, 0, 16, 3, 59));
    await turn('small hours');
    expect(await gateway.store.loadTurns('main', KEY)).toHaveLength(3);
  });

  it('per-agent policy overrides the global one', async () => {
    const time = clock(new Date(2025, 0, 15, 3, 30));
    setup = await startCore({
      now: time.now,
      edit: (file) => {
        file.session = { reset: { mode: 'daily', atHour: 4 } };
        file.agents = {
          list: [
            { id: 'main', model: 'up/some-model', systemPrompt: SYSTEM_PROMPT },
            { id: 'keeper', model: 'up/some-model', systemPrompt: SYSTEM_PROMPT, session: { reset: { mode: 'never' } } },
            { id: 'idler', model: 'up/some-model', systemPrompt: SYSTEM_PROMPT, session: { reset: { mode: 'idle', idleMinutes: 120 } } },
          ],
        };
      },
    });
    const { gateway, upstream } = setup;
    for (const agent of ['main', 'keeper', 'idler']) await turn(`${agent} before`, { agent });
    // Past the daily boundary, one hour later: only the global daily policy resets.
    time.set(new Date(2025, 0, 15, 4, 30));
    for (const agent of ['main', 'keeper', 'idler']) await turn(`${agent} after`, { agent });
    expect(messagesOf(await upstream.nthRequest(4))).toEqual(fresh('main after'));
    expect(messagesOf(await upstream.nthRequest(5))).toEqual(continued('keeper before', 'keeper after'));
    expect(messagesOf(await upstream.nthRequest(6))).toEqual(continued('idler before', 'idler after'));
    expect(await gateway.store.sessionHistory('agent:main:openai-user:alice')).toHaveLength(2);
    expect(await gateway.store.sessionHistory('agent:keeper:openai-user:alice')).toHaveLength(1);
    expect(await gateway.store.sessionHistory('agent:idler:openai-user:alice')).toHaveLength(1);

    // Three hours idle, still the same day: the idler's own policy now resets it; keeper never does.
    time.set(new Date(2025, 0, 15, 7, 31));
    await turn('idler later', { agent: 'idler' });
    await turn('keeper later', { agent: 'keeper' });
    expect(messagesOf(await upstream.nthRequest(7))).toEqual(fresh('idler later'));
    expect(await gateway.store.sessionHistory('agent:idler:openai-user:alice')).toHaveLength(2);
    expect(await gateway.store.loadTurns('keeper', 'agent:keeper:openai-user:alice')).toHaveLength(3);
  });
});
