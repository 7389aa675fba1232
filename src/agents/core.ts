/**
 * The agent core: resolves agent and session, waits its turn (session lane, then a run
 * slot), builds the model request from the agent's system prompt, the session's bounded
 * history and the new turn, streams the provider and records the turn. Every transport
 * runs turns through `startTurn`. It knows the provider interface and the store interface
 * only, never an adapter, a transport or its framing.
 */
import type { AgentConfig } from '../config/types.js';
import { imagesNotSupported, RunAbortedError, runTimeout, shuttingDown, toGatewayError } from '../domain/errors.js';
import type { CallerSignal } from '../domain/caller-signal.js';
import type { AgentEvent } from '../domain/events.js';
import type { CoreObserver, TurnLabels, UpstreamObserver } from '../domain/telemetry.js';
import { IdempotencyKeyTaken, SessionConflict, type SessionKind } from '../sessions/store.js';
import type { AgentCore, AgentCoreDeps, TurnRequest } from './core-api.js';
import { createContextReader } from './context.js';
import { claimKey, keyTaken, type KeyHolds } from './idempotency.js';
import { createLanes } from './lanes.js';
import { createLimiter, type Limiter } from './limiter.js';
import { resolveAgentId, resolveSessionKey } from './routing.js';
import { createDeadlines } from './deadlines.js';
import { RunControl } from './run-control.js';
import { createSessionAdmin } from './session-admin.js';
import { waitForSession } from './session-wait.js';
import { TurnAttempt, type PlannedTurn } from './turn-attempt.js';
import { createInputResolver, splitInput } from './turn-input.js';

export type { AgentCore, AgentCoreDeps, StartedTurn, TurnRequest } from './core-api.js';

/** The cap on a reply as stored when the caller sets none (the config's default is the same). */
const DEFAULT_MAX_STORED_REPLY_BYTES = 8 * 1024 * 1024;

function sessionKind(request: TurnRequest): SessionKind {
  if (request.sessionKey !== undefined) return 'explicit';
  return request.user ? 'user' : 'stateless';
}

/**
 * Holds a run's places: its admission by the limiters (`admitted` is told once all
 * admitted it), then its session lane and run slots, released in reverse.
 */
async function holdPlaces(limiters: Limiter[], acquire: (() => Promise<() => void>)[], admitted: () => void): Promise<() => void> {
  const entered: Limiter[] = [];
  const releases: (() => void)[] = [];
  const release = (): void => {
    for (const done of releases.reverse()) done();
    for (const limiter of entered.reverse()) limiter.leave();
  };
  try {
    for (const limiter of limiters) {
      limiter.admit();
      entered.push(limiter);
    }
    admitted();
    for (const take of acquire) releases.push(await take());
  } catch (err) {
    release();
    throw err;
  }
  return release;
}

/** The upstream observer of one turn: the core's observer with the turn's labels. */
function upstreamObserver(observer: CoreObserver | undefined, turn: TurnLabels): UpstreamObserver | undefined {
  if (!observer) return undefined;
  return { attempt: (attempt) => observer.upstreamAttempt(turn, attempt), retry: (retry) => observer.upstreamRetry(turn, retry) };
}

export function createAgentCore(deps: AgentCoreDeps): AgentCore {
  const agents = new Map(deps.agents.map((agent) => [agent.id, agent]));
  const now = deps.now ?? Date.now;
  const lanes = deps.lanes ?? createLanes();
  const limiter = createLimiter(deps.limits);
  const running = new Set<RunControl>();
  // One timer for every running turn's time limit (`deadlines.ts`).
  const deadlines = createDeadlines();
  /** Running turns by session (`agentId\nkey`), for aborting a session's turns. */
  const bySession = new Map<string, Set<RunControl>>();
  const sessionOf = (agentId: string, key: string): string => `${agentId}\n${key}`;
  const maxStoredReplyBytes = deps.maxStoredReplyBytes ?? DEFAULT_MAX_STORED_REPLY_BYTES;
  const { observer } = deps;
  let draining = false;
  let aborting = false;
  let onIdle: (() => void) | undefined;

  /** Idempotency keys whose requests run in this process. */
  const holds: KeyHolds = new Map();

  // One history-cache entry per session that can run at once.
  const context = createContextReader(deps.store, now, deps.limits.maxConcurrent);

  /** The error a failed run ends with, once its ending is recorded. */
  async function failed(plan: PlannedTurn, run: RunControl, attempt: TurnAttempt | undefined, err: unknown): Promise<Error> {
    const reason = run.reason;
    const failure =
      reason === 'timeout'
        ? runTimeout(plan.agent.timeoutSeconds)
        : reason === 'shutdown'
          ? shuttingDown()
          : reason === 'client'
            ? undefined
            : err instanceof IdempotencyKeyTaken
              ? keyTaken(err)
              : toGatewayError(err);
    const error = failure ? { error: { type: failure.type, code: failure.code, message: failure.message } } : {};
    await attempt?.finish({ status: reason === 'timeout' ? 'timeout' : reason ? 'aborted' : 'error', ...error });
    return failure ?? new RunAbortedError();
  }

  /**
   * Runs the turn: one attempt, or more when another process (`moltbot agent`, another
   * gateway) changed the session between reading its history and beginning the turn: the
   * store refuses the start (SessionConflict), the attempt is abandoned, and the turn
   * waits for that process's turn and starts over on the new history. Nothing of a
   * refused attempt is recorded or reaches the caller.
   */
  async function* execute(plan: PlannedTurn, signal: CallerSignal): AsyncGenerator<AgentEvent> {
    const run = new RunControl(plan.agent.timeoutSeconds, signal, deadlines);
    running.add(run);
    const span = deps.tracer?.startRun(plan.labels, plan.traceContext);
    let spanStatus = 'aborted';
    const session = sessionOf(plan.agent.id, plan.key);
    const ofSession = bySession.get(session) ?? new Set<RunControl>();
    bySession.set(session, ofSession.add(run));
    const attemptDeps = {
      store: deps.store,
      context,
      provider: deps.provider(plan.agent.provider),
      resolveInput: createInputResolver(plan.input, deps.images, () => run.signal),
      maxStoredReplyBytes,
      now,
      observer,
      upstream: upstreamObserver(observer, plan.labels),
      span,
    };
    let attempt: TurnAttempt | undefined;
    try {
      for (;;) {
        attempt = new TurnAttempt(plan, attemptDeps, run);
        try {
          yield* attempt.events();
          spanStatus = 'ok';
          return;
        } catch (err) {
          const cause = attempt.cause(err);
          if (!(cause instanceof SessionConflict)) throw cause;
          if (run.reason !== undefined) throw new RunAbortedError();
        }
        run.nextAttempt();
        const session = { agentId: plan.agent.id, key: plan.key };
        await waitForSession(deps.store, session, run.signal, () => deps.onSessionWait?.(session));
      }
    } catch (err) {
      spanStatus = run.reason === 'timeout' ? 'timeout' : run.reason ? 'aborted' : 'error';
      // Recording the outcome failed (a full store): that is the failure. A turn written
      // whole (start and end in one write) may instead have been refused for its key.
      if (attempt?.finished && !(err instanceof IdempotencyKeyTaken)) throw err;
      throw await failed(plan, run, attempt, err);
    } finally {
      span?.end(spanStatus);
      run.dispose();
      running.delete(run);
      ofSession.delete(run);
      if (ofSession.size === 0 && bySession.get(session) === ofSession) bySession.delete(session);
      // The consumer stopped iterating early (client gone): keep what was said.
      if (attempt && !attempt.finished) await attempt.finish({ status: 'aborted' });
    }
  }

  /** Admission (429 past the queues), the session lane and the run slots, then the run. */
  async function* run(plan: PlannedTurn, signal: CallerSignal): AsyncGenerator<AgentEvent> {
    if (draining) throw shuttingDown();
    const providerLimiter = deps.providerLimiter?.(plan.agent.provider);
    const limiters = providerLimiter ? [limiter, providerLimiter] : [limiter];
    let release: (() => void) | undefined;
    let queued = false;
    let started = false;
    try {
      release = await holdPlaces(
        limiters,
        [() => lanes.acquire({ agentId: plan.agent.id, key: plan.key }, signal), ...limiters.map((l) => () => l.slot(signal))],
        () => {
          queued = true;
          observer?.queued(plan.labels);
        },
      );
      // Turns still queued when the grace period ended are refused, not started.
      if (aborting) throw shuttingDown();
      started = true;
      observer?.started(plan.labels);
      yield* execute(plan, signal);
    } finally {
      if (queued) observer?.left(plan.labels, started);
      // Not admitted: refused for capacity (429).
      else observer?.rejected(plan.labels);
      release?.();
      if (limiter.admitted === 0) onIdle?.();
    }
  }

  const abortSession = (agentId: string, key: string): number => {
    const runs = [...(bySession.get(sessionOf(agentId, key)) ?? [])];
    for (const control of runs) control.abort('client');
    return runs.length;
  };
  const sessions = createSessionAdmin(deps.store, lanes, abortSession, now);

  return {
    get pending() {
      return limiter.admitted;
    },
    sessions,
    agents: deps.agents,
    defaultAgentId: deps.defaultAgentId,
    claimIdempotencyKey: (claim) => claimKey(deps.store, holds, claim, now()),
    storeHealth: () => deps.store.health(),
    startTurn(request, signal) {
      const agentId = resolveAgentId(request, (id) => agents.has(id), deps.defaultAgentId);
      const sessionKey = resolveSessionKey(request, agentId);
      // Split the input now so a bad request is a 400 before anything streams.
      const input = splitInput(request.input, deps.images);
      const configured = agents.get(agentId) as AgentConfig;
      // A caller may ask for less time than the agent allows, never more.
      const agent =
        request.timeoutSeconds !== undefined && request.timeoutSeconds > 0 && request.timeoutSeconds < configured.timeoutSeconds
          ? Object.assign({}, configured, { timeoutSeconds: request.timeoutSeconds })
          : configured;
      if (input.hasImages && !deps.provider(agent.provider).acceptsImages) throw imagesNotSupported(agent.id, agent.provider);
      const plan: PlannedTurn = {
        agent,
        key: sessionKey,
        kind: sessionKind(request),
        input,
        options: request.options,
        bufferedReply: request.bufferedReply === true,
        idempotency: request.idempotency,
        labels: { agentId: agent.id, provider: agent.provider, requestId: request.requestId },
        traceContext: request.traceContext,
      };
      return { agentId, sessionKey, sessionKind: plan.kind, events: run(plan, signal) };
    },
    async drain(graceMs) {
      draining = true;
      if (limiter.admitted === 0) return;
      const idle = new Promise<void>((resolve) => {
        onIdle = resolve;
      });
      let timer: NodeJS.Timeout | undefined;
      const graceOver = new Promise<'grace'>((resolve) => {
        timer = setTimeout(() => resolve('grace'), graceMs);
      });
      if ((await Promise.race([idle, graceOver])) === 'grace') {
        aborting = true;
        for (const control of running) control.abort('shutdown');
        await idle;
      }
      clearTimeout(timer);
    },
  };
}
