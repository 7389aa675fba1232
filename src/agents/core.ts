/**
 * The agent core: resolves agent and session, waits its turn (session lane, then a run
 * slot), builds the model request from the agent's system prompt, the session's bounded
 * history and the new turn, streams the provider and records the turn. HTTP and
 * `moltbot agent` both run turns through `startTurn`. It knows the provider interface
 * and the store interface only, never an adapter or the HTTP framework.
 */
import type { ChatCompletionRequestMessage } from '../../generated/client/types.gen.js';
import type { AgentConfig } from '../config/types.js';
import type { FinishReason, ModelMessage, ModelProvider, ToolCall, Usage } from '../providers/types.js';
import type { SessionKind, SessionStore, TranscriptMessage, Turn, TurnOutcome, TurnRef } from '../sessions/store.js';
import { RunAbortedError, internalError, invalidRequest, runTimeout, shuttingDown, toGatewayError } from '../errors.js';
import type { AgentEvent } from './events.js';
import { boundedHistory } from './history.js';
import { createHistoryCache } from './history-cache.js';
import { createLanes, type Lanes } from './lanes.js';
import { createLimiter, type Limiter } from './limiter.js';
import type { ImagePolicy } from './images.js';
import { resolveMessages, splitMessages, type RequestTurn } from './messages.js';
import type { TurnOptions } from './request-options.js';
import { isExpired } from './reset.js';
import { HTTP_SOURCES, resolveAgentId, resolveSessionKey, type RoutingSources } from './routing.js';
import { newSessionId } from '../ids.js';

/** One turn as asked for by a client. */
export interface TurnRequest {
  /** An explicit agent id (`x-moltbot-agent-id`, `--agent`); wins over `model`. */
  agentId?: string | undefined;
  /** OpenAI's `model` field. */
  model: string;
  sessionKey?: string | undefined;
  user?: string | null | undefined;
  messages: readonly ChatCompletionRequestMessage[];
  /** Sampling parameters and tools, forwarded where the provider supports them. */
  options?: TurnOptions;
  /**
   * True when the caller holds the reply until the turn is done (a JSON response). The
   * model is then called without waiting for the turn's start to be committed, a turn
   * that ends within the same commit window is written once, and the run yields only its
   * `done` event, with the whole reply. Otherwise (streaming) the start is committed
   * before the first event is yielded: a client never sees a reply the store has no
   * record of.
   */
  bufferedReply?: boolean;
}

/** A turn that has been routed and is ready to stream. */
export interface StartedTurn {
  agentId: string;
  sessionKey: string;
  /**
   * Deltas then `done`; throws a `GatewayError` on failure (429 when the gateway or its
   * provider is at capacity, 504 on timeout, 503 on shutdown, 502/504 from the provider) or
   * `RunAbortedError` when the caller's signal aborted. Iterate once; stopping early
   * ends the run and records it as aborted.
   */
  events: AsyncIterable<AgentEvent>;
}

export interface AgentCoreDeps {
  agents: readonly AgentConfig[];
  defaultAgentId: string;
  store: SessionStore;
  /** The provider for an id from config; every agent's provider must exist. */
  provider: (id: string) => ModelProvider;
  limits: { maxConcurrent: number; maxQueued: number };
  /**
   * The limiter of a provider with a cap of its own, else undefined. Its admission is
   * checked with the global one; its slot is taken after the session lane and the global
   * slot and held for the run.
   */
  providerLimiter?: (providerId: string) => Limiter | undefined;
  images: ImagePolicy;
  /**
   * Serialises turns per session key. The default is in-process; replicas sharing one
   * store pass lanes backed by that store (e.g. PostgreSQL advisory locks).
   */
  lanes?: Lanes;
  now?: () => number;
}

export interface AgentCore {
  /**
   * Routes the request (400/404 `GatewayError`s are thrown here, before anything
   * streams) and returns the turn's event stream. Aborting `signal` stops the run and
   * the provider request; the turn is then recorded as `aborted`.
   */
  startTurn(request: TurnRequest, signal: AbortSignal, sources?: RoutingSources): StartedTurn;
  /**
   * Shutdown: refuses new turns (503), lets running and queued ones finish for up to
   * `graceMs`, then aborts the rest (they end with a 503 error) and resolves when every
   * turn is recorded.
   */
  drain(graceMs: number): Promise<void>;
  /** Turns admitted and not yet finished (running or queued). */
  readonly pending: number;
}

/** Upper bound on stored turns read for history when only a token budget is set. */
const HISTORY_FETCH_CAP = 1000;

type AbortReason = 'client' | 'timeout' | 'shutdown';

/** A routed turn: which agent, which session, and what the request asked. */
interface PlannedTurn {
  agent: AgentConfig;
  key: string;
  kind: SessionKind;
  turn: RequestTurn;
  options: TurnOptions | undefined;
  bufferedReply: boolean;
}

function sessionKind(request: TurnRequest): SessionKind {
  if (request.sessionKey !== undefined) return 'explicit';
  return request.user ? 'user' : 'stateless';
}

export function createAgentCore(deps: AgentCoreDeps): AgentCore {
  const agents = new Map(deps.agents.map((agent) => [agent.id, agent]));
  const now = deps.now ?? Date.now;
  const lanes = deps.lanes ?? createLanes();
  const limiter = createLimiter(deps.limits);
  const running = new Set<AbortController>();
  let draining = false;
  let aborting = false;
  let onIdle: (() => void) | undefined;

  // One entry per session that can run at once.
  const historyCache = createHistoryCache(deps.limits.maxConcurrent);
  /** Stored turns read for an agent's history (then bounded by its limits). */
  const historyTurns = (agent: AgentConfig): number => Math.max(1, agent.history.maxTurns ?? HISTORY_FETCH_CAP);

  /** The session's live transcript and the history to send, honouring reset and limits. */
  async function loadContext(agent: AgentConfig, key: string, kind: SessionKind): Promise<{ sessionId: string | undefined; history: TranscriptMessage[]; hasTurns: boolean }> {
    // A stateless turn's key was minted for it (a new UUIDv7): the store cannot know it yet.
    const session = kind === 'stateless' ? undefined : await deps.store.currentSession(key);
    if (!session || isExpired(session.updatedAt, now(), agent.reset)) return { sessionId: undefined, history: [], hasTurns: false };
    let turns = historyCache.get(session);
    if (!turns) {
      turns = await deps.store.recentTurns(session.id, historyTurns(agent));
      historyCache.set(session, turns);
    }
    return { sessionId: session.id, history: boundedHistory(turns, agent.history), hasTurns: turns.length > 0 };
  }

  async function* execute(plan: PlannedTurn, signal: AbortSignal): AsyncGenerator<AgentEvent> {
    const { agent, key, kind, turn, options, bufferedReply } = plan;
    const controller = new AbortController();
    const abort = (reason: AbortReason): void => controller.abort(reason);
    const onClientAbort = (): void => abort('client');
    signal.addEventListener('abort', onClientAbort, { once: true });
    const timer = setTimeout(() => abort('timeout'), agent.timeoutSeconds * 1000);
    running.add(controller);
    if (signal.aborted) abort('client');

    let finished = false;
    let reply = '';
    const toolCalls: ToolCall[] = [];
    let usage: Usage | undefined;
    let finishReason: FinishReason | undefined;
    /** The turn's start, being committed; undefined until the input is resolved. */
    let begun: Promise<TurnRef> | undefined;
    /** Whether the turn's start is known to be committed (streaming callers wait for it). */
    let committed = false;
    /** What the turn added, once its input is resolved: for the history cache. */
    let recorded: { input: TranscriptMessage[]; startedAt: number } | undefined;
    const finish = async (outcome: Omit<TurnOutcome, 'endedAt' | 'reply' | 'usage'>): Promise<void> => {
      finished = true;
      if (!begun) return;
      const ended: TurnOutcome = {
        ...outcome,
        ...(reply === '' && toolCalls.length === 0 && outcome.status !== 'ok'
          ? {}
          : { reply: { role: 'assistant', content: reply, ...(toolCalls.length > 0 ? { toolCalls } : {}) } }),
        ...(usage ? { usage } : {}),
        endedAt: now(),
      };
      await deps.store.finishTurn(begun, ended);
      const { sessionId, seq } = await begun;
      const added: Turn | undefined =
        ended.status === 'ok' && recorded ? { sessionId, sessionKey: key, agentId: agent.id, seq, ...recorded, ...ended } : undefined;
      historyCache.written(sessionId, seq, ended.endedAt, added, historyTurns(agent));
    };

    try {
      const context = await loadContext(agent, key, kind);
      // A stored transcript is authoritative: only the request's new turn is added to it.
      const input = await resolveMessages(context.hasTurns ? turn.newTurn : turn.conversation, deps.images, controller.signal);
      const systemText = [agent.systemPrompt, ...turn.instructions].filter((text) => text !== '').join('\n\n');
      const messages: ModelMessage[] = [
        ...(systemText === '' ? [] : [{ role: 'system' as const, content: systemText }]),
        ...context.history,
        ...input,
      ];
      recorded = { input, startedAt: now() };
      begun = deps.store.beginTurn({
        session: { id: context.sessionId ?? newSessionId(), key, agentId: agent.id, kind },
        newTranscript: context.sessionId === undefined,
        input,
        ...(turn.instructions.length > 0 ? { instructions: turn.instructions.join('\n\n') } : {}),
        startedAt: recorded.startedAt,
      });
      // Awaited later (before the first event, or by `finish`); a failure must not go unhandled meanwhile.
      begun.catch(() => undefined);

      const request = { model: agent.model, messages, ...options };
      for await (const event of deps.provider(agent.provider).stream(request, { signal: controller.signal })) {
        if (controller.signal.aborted) break;
        switch (event.type) {
          case 'delta':
            reply += event.text;
            break;
          case 'tool_call': {
            const call = (toolCalls[event.index] ??= { id: '', name: '', arguments: '' });
            if (event.id) call.id = event.id;
            if (event.name) call.name = event.name;
            if (event.arguments) call.arguments += event.arguments;
            break;
          }
          case 'usage':
            usage = event.usage;
            break;
          case 'finish':
            finishReason = event.reason;
            break;
        }
        // Deltas and tool-call parts go out as they come, except to a caller that takes the reply whole.
        if (bufferedReply || (event.type !== 'delta' && event.type !== 'tool_call')) continue;
        if (!committed) {
          await begun;
          committed = true;
        }
        yield event;
      }
      if (controller.signal.aborted) throw new RunAbortedError();
      if (finishReason === undefined) throw internalError(new Error('provider ended without a finish event'));
      // The turn is committed before the client is told it is done.
      await finish({ status: 'ok', finishReason });
      yield {
        type: 'done',
        finishReason,
        ...(usage ? { usage } : {}),
        ...(bufferedReply ? { reply: { content: reply, toolCalls: toolCalls.filter(Boolean) } } : {}),
      };
    } catch (err) {
      if (finished) throw err;
      const reason = controller.signal.aborted ? (controller.signal.reason as AbortReason) : undefined;
      const failure =
        reason === 'timeout' ? runTimeout(agent.timeoutSeconds) : reason === 'shutdown' ? shuttingDown() : reason === 'client' ? undefined : toGatewayError(err);
      const describe = failure ? { error: { type: failure.type, code: failure.code, message: failure.message } } : {};
      await finish({ status: reason === 'timeout' ? 'timeout' : reason ? 'aborted' : 'error', ...describe });
      throw failure ?? new RunAbortedError();
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', onClientAbort);
      running.delete(controller);
      // The consumer stopped iterating early (client gone): keep what was said.
      if (!finished) await finish({ status: 'aborted' });
    }
  }

  async function* run(plan: PlannedTurn, signal: AbortSignal): AsyncGenerator<AgentEvent> {
    if (draining) throw shuttingDown();
    const providerLimiter = deps.providerLimiter?.(plan.agent.provider);
    limiter.admit();
    try {
      providerLimiter?.admit();
    } catch (err) {
      limiter.leave();
      throw err;
    }
    let releaseLane: (() => void) | undefined;
    let releaseSlot: (() => void) | undefined;
    let releaseProviderSlot: (() => void) | undefined;
    try {
      releaseLane = await lanes.acquire(plan.key, signal);
      releaseSlot = await limiter.slot(signal);
      releaseProviderSlot = await providerLimiter?.slot(signal);
      // Turns still queued when the grace period ended are refused, not started.
      if (aborting) throw shuttingDown();
      yield* execute(plan, signal);
    } finally {
      releaseProviderSlot?.();
      releaseSlot?.();
      releaseLane?.();
      providerLimiter?.leave();
      limiter.leave();
      if (limiter.admitted === 0) onIdle?.();
    }
  }

  return {
    get pending() {
      return limiter.admitted;
    },
    startTurn(request, signal, sources = HTTP_SOURCES) {
      const agentId = resolveAgentId(request, (id) => agents.has(id), deps.defaultAgentId, sources);
      const sessionKey = resolveSessionKey(request, agentId, sources);
      // Split the messages now so a bad request is a 400 before anything streams.
      const turn = splitMessages(request.messages, deps.images);
      const agent = agents.get(agentId) as AgentConfig;
      if (turn.hasImages && !deps.provider(agent.provider).acceptsImages) {
        throw invalidRequest(
          `Agent '${agent.id}' runs on provider '${agent.provider}', which cannot take images; send text only or use an agent with a vision-capable provider.`,
          'messages',
          'images_not_supported',
        );
      }
      const plan: PlannedTurn = {
        agent,
        key: sessionKey,
        kind: sessionKind(request),
        turn,
        options: request.options,
        bufferedReply: request.bufferedReply === true,
      };
      return { agentId, sessionKey, events: run(plan, signal) };
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
        for (const controller of running) controller.abort('shutdown' satisfies AbortReason);
        await idle;
      }
      clearTimeout(timer);
    },
  };
}
