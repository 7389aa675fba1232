/**
 * The WebSocket run registry's memory of finished runs: bounded by `MAX_FINISHED`, the
 * oldest forgotten first, runs still going never, and a key remembered within the cap
 * still finds its run; a connection that watched runs keeps no hook of a run that ended.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Connection } from '../../src/gateway/ws/connection.js';
import { MAX_FINISHED, RunRegistry, type RunRecord } from '../../src/gateway/ws/runs.js';

const registries: RunRegistry[] = [];
afterEach(() => {
  for (const registry of registries.splice(0)) registry.close();
});

const session = { sessionKey: 'agent:main:k', agentId: 'main', key: 'agent:main:k' };
const end = (record: RunRecord, at: number): void =>
  record.settle({ status: 'ok', endedAt: at, response: { ok: true, payload: { runId: record.runId } } });

describe('RunRegistry', () => {
  it('remembers at most MAX_FINISHED finished runs, forgetting the oldest first and never a running one', () => {
    let now = 1_000;
    const registry = new RunRegistry(() => now);
    registries.push(registry);
    const running = registry.create('agent', 'still-running', session, 'f');
    for (let i = 0; i < MAX_FINISHED * 2; i += 1) {
      now += 1;
      end(registry.create('agent', `run-${i}`, session, 'f'), now);
    }
    const remembered = Array.from({ length: MAX_FINISHED * 2 }, (_, i) => registry.find('agent', `run-${i}`) !== undefined);
    const count = remembered.filter(Boolean).length;
    expect(count).toBeLessThanOrEqual(MAX_FINISHED);
    expect(count).toBeGreaterThan(MAX_FINISHED / 2);
    // The remembered ones are the newest, without a gap.
    expect(remembered.indexOf(true)).toBe(MAX_FINISHED * 2 - count);
    expect(registry.find('agent', 'still-running')).toBe(running);
    expect(registry.byId('still-running')).toBe(running);
  });

  it('a connection forgets each run it watched once the run ends; closing it aborts only the runs still going', async () => {
    const registry = new RunRegistry();
    registries.push(registry);
    const hooks = new Set<() => void>();
    const connection = { onClose: (hook: () => void) => hooks.add(hook), offClose: (hook: () => void) => hooks.delete(hook) } as unknown as Connection;
    const ended = Array.from({ length: 100 }, (_, i) => registry.create('agent', `ended-${i}`, session, 'f'));
    for (const record of ended) {
      registry.watch(record, connection);
      end(record, Date.now());
    }
    const going = registry.create('agent', 'going', session, 'f');
    registry.watch(going, connection);
    await Promise.all(ended.map((record) => record.done));
    expect(hooks.size).toBe(1);
    for (const hook of hooks) hook();
    expect(going.controller.signal.aborted).toBe(true);
    expect(going.abortCause).toBe('client');
  });
});
