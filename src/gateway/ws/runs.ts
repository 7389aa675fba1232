/**
 * The runs started over this protocol (`agent`, `chat.send`), by run id and by
 * idempotency key. A key used again within `IDEMPOTENCY_TTL_MS` runs nothing: the repeat
 * joins the first run (it gets its events, and for `agent` its final response under the
 * repeat's own request id) or, once it ended, gets its result. A run is aborted when
 * every connection watching it has closed (the client went away, as on HTTP), or by
 * `chat.abort`. Records are per process; the store's idempotency records make a key
 * count across replicas (docs/decisions/0012-websocket-protocol.md).
 */
import type { ErrorShape } from '../../../generated/ws/types.js';
import type { Connection } from './connection.js';

export type RunKind = 'agent' | 'chat';

/** How the run ended: the `agent` method's final response, and what `agent.wait` reports. */
export interface RunOutcome {
  status: 'ok' | 'error' | 'aborted' | 'timeout';
  /** The `agent` final response: `ok` and payload, and the error when not ok. */
  response: { ok: boolean; payload: unknown; error?: ErrorShape };
  errorMessage?: string;
  endedAt: number;
}

export interface RunRecord {
  runId: string;
  kind: RunKind;
  /** The session key as the client sent it (events echo it), and where it is stored. */
  sessionKey: string;
  agentId: string;
  key: string;
  /** What the request asked for: a repeat with another fingerprint is refused. */
  fingerprint: string;
  acceptedAt: number;
  controller: AbortController;
  /** Why it was aborted, once it was: `chat.abort` (rpc), every watcher gone (client), shutdown. */
  abortCause: 'rpc' | 'client' | 'shutdown' | undefined;
  abort(cause: 'rpc' | 'client' | 'shutdown'): void;
  watchers: Set<Connection>;
  outcome: RunOutcome | undefined;
  /** Resolves with the outcome when the run ends. */
  done: Promise<RunOutcome>;
  settle(outcome: RunOutcome): void;
}

/** How long an idempotency key (and a finished run's result) is remembered. */
export const IDEMPOTENCY_TTL_MS = 10 * 60_000;
/** Finished runs remembered at most; the oldest go first. */
export const MAX_FINISHED = 10_000;
/**
 * Past `MAX_FINISHED`, the oldest are dropped until this many fewer remain: one pass per
 * that many runs. Checking every record on every new run once full cost 9% of the
 * gateway's CPU at 1,300 runs/s.
 */
const TRIM_SLACK = 1_000;

export class RunRegistry {
  private readonly byKey = new Map<string, RunRecord>();
  private readonly byRunId = new Map<string, RunRecord>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly now: () => number = Date.now) {
    this.sweeper = setInterval(() => this.sweep(), 60_000);
    this.sweeper.unref();
  }

  /** The run that used this idempotency key within the window, if any. */
  find(kind: RunKind, idempotencyKey: string): RunRecord | undefined {
    const record = this.byKey.get(`${kind}:${idempotencyKey}`);
    if (record?.outcome && this.now() - record.outcome.endedAt > IDEMPOTENCY_TTL_MS) {
      this.forget(record, idempotencyKey);
      return undefined;
    }
    return record;
  }

  byId(runId: string): RunRecord | undefined {
    return this.byRunId.get(runId);
  }

  /** Records a new run under `idempotencyKey` (which is its run id). */
  create(kind: RunKind, idempotencyKey: string, session: { sessionKey: string; agentId: string; key: string }, fingerprint: string): RunRecord {
    let settle!: (outcome: RunOutcome) => void;
    const done = new Promise<RunOutcome>((resolve) => {
      settle = resolve;
    });
    const record: RunRecord = {
      runId: idempotencyKey,
      kind,
      ...session,
      fingerprint,
      acceptedAt: this.now(),
      controller: new AbortController(),
      abortCause: undefined,
      abort: (cause) => {
        if (record.outcome || record.controller.signal.aborted) return;
        record.abortCause = cause;
        record.controller.abort();
      },
      watchers: new Set(),
      outcome: undefined,
      done,
      settle: (outcome) => {
        if (record.outcome) return;
        record.outcome = outcome;
        record.watchers.clear();
        settle(outcome);
      },
    };
    if (this.byRunId.size > MAX_FINISHED) this.trim();
    this.byKey.set(`${kind}:${idempotencyKey}`, record);
    this.byRunId.set(record.runId, record);
    return record;
  }

  /** Drops a run that never started (refused before it was accepted). */
  discard(record: RunRecord): void {
    this.forget(record, record.runId);
  }

  /**
   * Adds a connection that gets the run's events; when the last watcher closes, the run
   * is aborted. The connection forgets the run when it ends (a connection lives for many
   * runs: a hook kept per run would keep every run record it ever watched).
   */
  watch(record: RunRecord, connection: Connection): void {
    if (record.outcome || record.watchers.has(connection)) return;
    record.watchers.add(connection);
    const closed = (): void => {
      record.watchers.delete(connection);
      if (record.watchers.size === 0) record.abort('client');
    };
    connection.onClose(closed);
    void record.done.then(() => connection.offClose(closed));
  }

  /** Runs of the session still going, optionally only `runId`. */
  running(agentId: string, key: string): RunRecord[] {
    return [...this.byRunId.values()].filter((r) => !r.outcome && r.agentId === agentId && r.key === key);
  }

  /** Every run still going (shutdown waits for their finals to go out). */
  active(): RunRecord[] {
    return [...this.byRunId.values()].filter((r) => !r.outcome);
  }

  close(): void {
    clearInterval(this.sweeper);
  }

  private forget(record: RunRecord, idempotencyKey: string): void {
    this.byKey.delete(`${record.kind}:${idempotencyKey}`);
    if (this.byRunId.get(record.runId) === record) this.byRunId.delete(record.runId);
  }

  /** Drops the oldest finished runs (insertion order) until `TRIM_SLACK` below the cap. */
  private trim(): void {
    for (const record of this.byRunId.values()) {
      if (this.byRunId.size <= MAX_FINISHED - TRIM_SLACK) return;
      if (record.outcome) this.forget(record, record.runId);
    }
  }

  private sweep(): void {
    const at = this.now();
    const finished: RunRecord[] = [];
    for (const record of this.byRunId.values()) {
      if (!record.outcome) continue;
      if (at - record.outcome.endedAt > IDEMPOTENCY_TTL_MS) this.forget(record, record.runId);
      else finished.push(record);
    }
    // Oldest first: a burst of keys cannot grow the map without bound.
    for (const record of finished.slice(0, Math.max(0, finished.length - MAX_FINISHED))) this.forget(record, record.runId);
  }
}
