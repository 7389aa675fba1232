/**
 * The agent core: resolves agent and session, waits its turn (session lane, then a run
 * slot), builds the model request from the agent's system prompt, the session's bounded
 * history and the new turn, streams the provider and records the turn. HTTP and
 * `moltbot agent` both run turns through `startTurn`. It knows the provider interface
 * and the store interface only, never an adapter or the HTTP framework.
 */
import type { AgentConfig } from '../config/types.js';
import type { ModelMessage } from '../providers/types.js';
import { SessionConflict, type SessionKind, type TranscriptMessage, type Turn, type TurnOutcome, type TurnRef } from '../sessions/store.js';
import { RunAbortedError, internalError, invalidRequest, runTimeout, shuttingDown, toGatewayError, upstreamError } from '../errors.js';
import { createContextReader } from './context.js';
import type { AgentEvent } from './events.js';
import { createLanes } from './lanes.js';
import { createLimiter } from './limiter.js';
import { resolveMessages, splitMessages, type RequestTurn } from './messages.js';
import { ReplyCollector } from './reply.js';
import type { TurnOptions } from './request-options.js';
import { HTTP_SOURCES, resolveAgentId, resolveSessionKey } from './routing.js';
import type { AgentCore, AgentCoreDeps, TurnRequest } from './core-api.js';
import { newSessionId } from '../ids.js';
import { waitForSession } from './session-wait.js';

export type { AgentCore, AgentCoreDeps, StartedTurn, TurnRequest } from './core-api.js';

type AbortReason = 'client' | 'timeout' | 'shutdown';

/** 502: the model's reply outgrew the agent's `maxReplyBytes`; the run ends (the upstream request is closed). */
function replyTooLarge(agent: AgentConfig): Error {
  return upstreamError(
    `The model provider '${agent.provider}' sent a reply longer than ${agent.maxReplyBytes} bytes (maxReplyBytes); the run was ended.`,
    'upstream_reply_too_large',
  );
}

/** The cap on a reply as stored when the caller sets none (the config's default is the same). */
const DEFAULT_MAX_STORED_REPLY_BYTES = 8 * 1024 * 1024;

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

  // One history-cache entry per session that can run at once.
  const context = createContextReader(deps.store, now, deps.limits.maxConcurrent);

  async function* execute(plan: PlannedTurn, signal: AbortSignal): AsyncGenerator<AgentEvent> {
    const { agent, key, kind, turn, options, bufferedReply } = plan;
    const controller = new AbortController();
    const abort = (reason: AbortReason): void => controller.abort(reason);
    const onClientAbort = (): void => abort('client');
    signal.addEventListener('abort', onClientAbort, { once: true });
    const timer = setTimeout(() => abort('timeout'), agent.timeoutSeconds * 1000);
    const deadline = Date.now() + agent.timeoutSeconds * 1000;
    const replyLimit = { maxBytes: agent.maxReplyBytes, tooLarge: () => replyTooLarge(agent) };
    running.add(controller);
    if (signal.aborted) abort('client');

    // The state of the current attempt; a new attempt starts afresh (see the loop below).
    let finished = false;
    const newReply = (): ReplyCollector => new ReplyCollector(deps.maxStoredReplyBytes ?? DEFAULT_MAX_STORED_REPLY_BYTES, bufferedReply);
    let reply = newReply();
    /** The turn's start, being committed; undefined until the input is resolved. */
    let begun: Promise<TurnRef> | undefined;
    /** Why the store refused the start, once it has. */
    let beginError: unknown;
    /** Whether the turn's start is known to be committed (streaming callers wait for it). */
    let committed = false;
    /** What the turn added, once its input is resolved: for the history cache. */
    let recorded: { input: TranscriptMessage[]; startedAt: number } | undefined;
    /** The turn as written, once its end is committed. */
    let written: TurnRef | undefined;
    const finish = async (outcome: Omit<TurnOutcome, 'endedAt' | 'reply' | 'usage'>): Promise<void> => {
      finished = true;
      // Nothing to record: the turn never started, or the store refused its start.
      if (!begun || beginError !== undefined) return;
      const stored = reply.empty && outcome.status !== 'ok' ? undefined : reply.stored();
      const ended: TurnOutcome = {
        ...outcome,
        ...(stored ? { reply: stored.message } : {}),
        ...(stored?.truncated ? { replyTruncated: stored.truncated } : {}),
        ...(reply.usage ? { usage: reply.usage } : {}),
        endedAt: now(),
      };
      await deps.store.finishTurn(begun, ended);
      const { sessionId, seq } = await begun;
      written = { sessionId, seq };
      const added: Turn | undefined =
        ended.status === 'ok' && recorded ? { sessionId, sessionKey: key, agentId: agent.id, seq, ...recorded, ...ended } : undefined;
      context.written(agent, sessionId, seq, ended.endedAt, added);
    };
    /** The request's messages resolved (images fetched), once per variant: whole conversation or new turn only. */
    const resolved = new Map<boolean, Promise<TranscriptMessage[]>>();
    const resolveInput = (whole: boolean): Promise<TranscriptMessage[]> => {
      let input = resolved.get(whole);
      if (!input) resolved.set(whole, (input = resolveMessages(whole ? turn.conversation : turn.newTurn, deps.images, controller.signal)));
      return input;
    };

    try {
      // One attempt, or more when another process (`moltbot agent`, another gateway) changed
      // the session between reading its history and beginning the turn: the store refuses
      // the start (SessionConflict), the attempt's model call is abandoned, and the turn
      // waits for that process's turn and starts over on the new history. Nothing of a
      // refused attempt is recorded or reaches the caller.
      for (;;) {
        const attempt = new AbortController();
        const stopAttempt = (): void => attempt.abort();
        controller.signal.addEventListener('abort', stopAttempt, { once: true });
        if (controller.signal.aborted) attempt.abort();
        [finished, reply, begun, beginError, committed, recorded] = [false, newReply(), undefined, undefined, false, undefined];
        try {
          const read = await context.load(agent, key, kind);
          // A stored transcript is authoritative: only the request's new turn is added to it.
          const input = await resolveInput(!read.hasTurns);
          const systemText = [agent.systemPrompt, ...turn.instructions].filter((text) => text !== '').join('\n\n');
          const messages: ModelMessage[] = [
            ...(systemText === '' ? [] : [{ role: 'system' as const, content: systemText }]),
            ...read.history,
            ...input,
          ];
          recorded = { input, startedAt: now() };
          const starting = deps.store.beginTurn({
            session: { id: read.sessionId ?? newSessionId(), key, agentId: agent.id, kind },
            newTranscript: read.sessionId === undefined,
            expected: read.expected,
            input,
            ...(turn.instructions.length > 0 ? { instructions: turn.instructions.join('\n\n') } : {}),
            startedAt: recorded.startedAt,
          });
          begun = starting;
          // Awaited later (before the first event, or by `finish`). A refused start ends the
          // model call at once: its reply could never be recorded or returned.
          starting.catch((err: unknown) => {
            if (begun !== starting) return;
            beginError = err;
            attempt.abort();
          });

          const request = { model: agent.model, messages, ...options };
          for await (const event of deps.provider(agent.provider).stream(request, { signal: attempt.signal, deadline })) {
            if (attempt.signal.aborted) break;
            reply.add(event, replyLimit);
            // Deltas and tool-call parts go out as they come, except to a caller that takes the reply whole.
            if (bufferedReply || (event.type !== 'delta' && event.type !== 'tool_call')) continue;
            if (!committed) {
              await begun;
              committed = true;
            }
            yield event;
          }
          if (beginError !== undefined) throw beginError;
          if (controller.signal.aborted) throw new RunAbortedError();
          const { finishReason, usage } = reply;
          if (finishReason === undefined) throw internalError(new Error('provider ended without a finish event'));
          // The turn is committed before the client is told it is done.
          await finish({ status: 'ok', finishReason });
          yield { type: 'done', finishReason, ...(usage ? { usage } : {}), ...(bufferedReply ? { reply: reply.whole() } : {}), ...(written ? { turn: written } : {}) };
          return;
        } catch (err) {
          // The model call failed because the start was refused: the refusal is the failure.
          const cause = beginError ?? err;
          if (!(cause instanceof SessionConflict)) throw cause;
          // Refused: nothing of this attempt was recorded or yielded.
          [begun, finished] = [undefined, false];
          if (controller.signal.aborted) throw new RunAbortedError();
        } finally {
          controller.signal.removeEventListener('abort', stopAttempt);
        }
        const session = { agentId: agent.id, key };
        await waitForSession(deps.store, session, controller.signal, () => deps.onSessionWait?.(session));
      }
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
      releaseLane = await lanes.acquire({ agentId: plan.agent.id, key: plan.key }, signal);
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
