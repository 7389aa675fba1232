/**
 * One attempt at a turn: read the session's context, begin the turn in the store, stream
 * the model and record how it ended. A turn takes more than one attempt only when the
 * store refuses the start because another process changed the session meanwhile
 * (`SessionConflict`): the attempt's model call is then abandoned and nothing of it is
 * recorded or yielded (see `core.ts`).
 */
import type { AgentConfig } from '../config/types.js';
import { internalError, replyTooLarge, RunAbortedError } from '../domain/errors.js';
import type { AgentEvent, ModelEvent } from '../domain/events.js';
import type { ModelMessage, TranscriptMessage } from '../domain/messages.js';
import type { TurnOptions } from '../domain/options.js';
import type { CoreObserver, RunSpan, TurnLabels, UpstreamObserver } from '../domain/telemetry.js';
import { newSessionId } from '../ids.js';
import type { ModelProvider } from '../providers/types.js';
import type { SessionKind, SessionStore, Turn, TurnIdempotency, TurnOutcome, TurnWrite } from '../sessions/store.js';
import type { ContextReader, TurnContext } from './context.js';
import { ReplyCollector, type ReplyLimit } from './reply.js';
import type { RunControl } from './run-control.js';
import type { TurnInput } from './turn-input.js';

/** A routed turn: which agent, which session, and what the request asked. */
export interface PlannedTurn {
  agent: AgentConfig;
  key: string;
  kind: SessionKind;
  input: TurnInput;
  options: TurnOptions | undefined;
  bufferedReply: boolean;
  /** The idempotency key claimed with the turn's start (`TurnRequest.idempotency`). */
  idempotency: TurnIdempotency | undefined;
  /** What observations of this turn are labelled with. */
  labels: TurnLabels;
  /** The caller's trace context (`TurnRequest.traceContext`). */
  traceContext: unknown;
}

/** What an attempt works with: the run's store, context reader, provider and input. */
export interface AttemptDeps {
  store: SessionStore;
  context: ContextReader;
  provider: ModelProvider;
  /** The turn's messages with images fetched: the whole conversation, or only the new turn. */
  resolveInput: (whole: boolean) => Promise<TranscriptMessage[]>;
  maxStoredReplyBytes: number;
  now: () => number;
  observer: CoreObserver | undefined;
  /** Passed to the provider: told of each upstream attempt and retry. */
  upstream: UpstreamObserver | undefined;
  /** The run's span when tracing is on: the upstream call gets a child span and its headers. */
  span: RunSpan | undefined;
}

/** How a turn ended, less what the attempt knows itself (its reply, usage and end time). */
export type Ending = Omit<TurnOutcome, 'endedAt' | 'reply' | 'usage' | 'replyTruncated'>;

/** One attempt at a turn (see the module comment); build one per attempt. */
export class TurnAttempt {
  /** The run's signal for this attempt: aborts with the run, or alone when the store refuses the start. */
  private readonly signal: AbortSignal;
  private readonly reply: ReplyCollector;
  private readonly replyLimit: ReplyLimit;
  /** The turn's write; undefined until its input is resolved. */
  private write: TurnWrite | undefined;
  /** Why the store refused the start, once it has. */
  private refusal: unknown;
  /** Whether the start is known to be committed (a streamed event waits for it). */
  private committed = false;
  /** Whether the start's write has settled (committed or refused), and when it does (`true`, never anything else). */
  private startSettled = false;
  private startSettledAt: Promise<true> = Promise.resolve(true);
  /** What the turn added, once its input is resolved: for the history cache. */
  private recorded: { input: TranscriptMessage[]; startedAt: number } | undefined;
  /** Whether the outcome has been recorded (or its recording tried). */
  finished = false;

  constructor(
    private readonly plan: PlannedTurn,
    private readonly deps: AttemptDeps,
    private readonly run: RunControl,
  ) {
    this.reply = new ReplyCollector(deps.maxStoredReplyBytes, plan.bufferedReply);
    this.replyLimit = { maxBytes: plan.agent.maxReplyBytes, tooLarge: () => replyTooLarge(plan.agent.provider, plan.agent.maxReplyBytes) };
    this.signal = run.signal;
  }

  /**
   * The turn's events: deltas and tool-call parts as they come (none to a caller that
   * takes the reply whole), then `done` once the turn is recorded `ok`. Throws the store's
   * refusal (a `SessionConflict` starts the turn over, an `IdempotencyKeyTaken` is a 409),
   * the model's failure, or `RunAbortedError` when the run was aborted.
   *
   * The model is called while the start commits, keyed or not: nothing is yielded before
   * the start is committed (events that come sooner are held, and go out the moment it
   * is), and a refused start aborts the call. A model that ends before the start was
   * taken by a commit gets its whole turn written in one write (`TurnWrite.finish`).
   */
  async *events(): AsyncGenerator<AgentEvent> {
    const messages = await this.begin();
    const { agent, options, bufferedReply } = this.plan;
    const request = { model: agent.model, messages, ...options };
    const call = this.deps.span?.upstream();
    const streamOptions = { signal: this.signal, deadline: this.run.deadline, observer: this.deps.upstream, traceHeaders: call?.headers };
    const stream = this.deps.provider.stream(request, streamOptions)[Symbol.asyncIterator]();
    /** Events that came before the start was committed. */
    const held: AgentEvent[] = [];
    let failure: string | undefined = 'ended early';
    let next: Promise<IteratorResult<ModelEvent>> | undefined;
    try {
      for (;;) {
        next ??= stream.next();
        // Held events go out once the start commits (`true`), even if the model says nothing more for a while.
        const step = held.length > 0 && !this.startSettled ? await Promise.race([next, this.startSettledAt]) : await next;
        if (step === true) {
          await this.started();
          yield* held.splice(0);
          continue;
        }
        next = undefined;
        if (step.done || this.signal.aborted) break;
        const event = step.value;
        this.reply.add(event, this.replyLimit);
        if (bufferedReply || (event.type !== 'delta' && event.type !== 'tool_call')) continue;
        if (!this.startSettled) {
          held.push(event);
          continue;
        }
        await this.started();
        if (held.length > 0) yield* held.splice(0);
        yield event;
      }
      failure = undefined;
    } catch (err) {
      failure = err instanceof Error ? err.name : 'error';
      throw err;
    } finally {
      call?.end(failure);
      if (failure !== undefined || this.signal.aborted) {
        // Left early (an error, an abort, a consumer gone): end the model call as `for await` would.
        next?.catch(() => undefined);
        stream.return?.().catch(() => undefined);
      }
    }
    if (this.refusal !== undefined) throw this.refusal;
    if (this.run.reason !== undefined) throw new RunAbortedError();
    const { finishReason, usage } = this.reply;
    if (finishReason === undefined) throw internalError(new Error('provider ended without a finish event'));
    // The turn is committed before the caller is told it is done (or sees any of it).
    await this.finish({ status: 'ok', finishReason });
    const turn = await this.write?.started;
    yield* held.splice(0);
    yield {
      type: 'done',
      finishReason,
      ...(usage ? { usage } : {}),
      ...(bufferedReply ? { reply: this.reply.whole() } : {}),
      ...(turn ? { turn: { sessionId: turn.sessionId, seq: turn.seq } } : {}),
    };
  }

  /** What failed: the store's refusal of the start, if it refused (the model call then failed because of it), else `err`. */
  cause(err: unknown): unknown {
    return this.refusal ?? err;
  }

  /**
   * Records how the turn ended (once): the reply so far, its usage and the end time. Does
   * nothing when the turn never started or the store refused its start.
   */
  async finish(ending: Ending): Promise<void> {
    this.finished = true;
    const write = this.write;
    if (!write || this.refusal !== undefined) return;
    const stored = this.reply.empty && ending.status !== 'ok' ? undefined : this.reply.stored();
    const outcome: TurnOutcome = {
      endedAt: this.deps.now(),
      ...ending,
      ...(stored ? { reply: stored.message } : {}),
      ...(stored?.truncated ? { replyTruncated: stored.truncated } : {}),
      ...(this.reply.usage ? { usage: this.reply.usage } : {}),
    };
    const { observer } = this.deps;
    const writing = performance.now();
    await write.finish(outcome);
    const { sessionId, seq } = await write.started;
    if (observer) {
      observer.storeWrite('finish', (performance.now() - writing) / 1000);
      const seconds = Math.max(0, outcome.endedAt - (this.recorded?.startedAt ?? outcome.endedAt)) / 1000;
      observer.recorded(this.plan.labels, { status: outcome.status, code: outcome.error?.code, usage: outcome.usage, seconds });
    }
    const { agent, key } = this.plan;
    const added: Turn | undefined =
      outcome.status === 'ok' && this.recorded ? { sessionId, sessionKey: key, agentId: agent.id, seq, ...this.recorded, ...outcome } : undefined;
    this.deps.context.written(agent, sessionId, seq, outcome.endedAt, added);
  }

  /**
   * Reads the context, resolves the input and begins the turn in the store; returns the
   * model's messages. The start is committed in the background: a refusal ends the model
   * call at once, since its reply could never be recorded or returned.
   */
  private async begin(): Promise<ModelMessage[]> {
    const { agent, key, kind, input: turn } = this.plan;
    const context = await this.deps.context.load(agent, key, kind);
    // A stored transcript is authoritative: only the request's new turn is added to it.
    const input = await this.deps.resolveInput(!context.hasTurns);
    this.recorded = { input, startedAt: this.deps.now() };
    const write = this.deps.store.beginTurn({
      session: { id: context.sessionId ?? newSessionId(), key, agentId: agent.id, kind },
      newTranscript: context.sessionId === undefined,
      expected: context.expected,
      input,
      ...(turn.instructions.length > 0 ? { instructions: turn.instructions.join('\n\n') } : {}),
      ...(this.plan.idempotency ? { idempotency: this.plan.idempotency } : {}),
      startedAt: this.recorded.startedAt,
    });
    this.write = write;
    const { observer } = this.deps;
    if (observer) {
      const writing = performance.now();
      write.started.then(() => observer.storeWrite('begin', (performance.now() - writing) / 1000), () => undefined);
    }
    this.startSettledAt = write.started.then(
      (): true => {
        this.startSettled = true;
        return true;
      },
      (err: unknown): true => {
        this.refusal = err;
        this.run.abandonAttempt(this.signal);
        this.startSettled = true;
        return true;
      },
    );
    return modelMessages(agent, turn, context, input);
  }

  /** Waits, once, for the start to be committed: a caller never sees a reply the store has no record of. */
  private async started(): Promise<void> {
    if (this.committed || !this.write) return;
    await this.write.started;
    this.committed = true;
  }
}

/** The system prompt (the agent's and the turn's instructions), the bounded history, then the new input. */
function modelMessages(agent: AgentConfig, turn: TurnInput, context: TurnContext, input: TranscriptMessage[]): ModelMessage[] {
  const systemText = [agent.systemPrompt, ...turn.instructions].filter((text) => text !== '').join('\n\n');
  return [...(systemText === '' ? [] : [{ role: 'system' as const, content: systemText }]), ...context.history, ...input];
}
