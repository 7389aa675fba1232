/**
 * The methods that run turns: `agent` (answers `accepted`, then the final response with
 * the same id), `chat.send` (answers `started`; the reply comes as events), `agent.wait`
 * and `chat.abort`. Every run goes through the agent core like an HTTP request (same
 * lanes, limits, transcript); a routing error is the one response, before anything runs.
 */
import { hash } from 'node:crypto';
import type { AgentParams, ChatSendParams } from '../../../../generated/ws/types.js';
import type { StartedTurn, TurnRequest } from '../../../agents/core-api.js';
import type { TurnMessage } from '../../../domain/messages.js';
import { invalidRequest, ProtocolError, toErrorShape, type ProtocolErrorCode } from '../protocol-errors.js';
import { streamRun } from '../run-stream.js';
import type { RunKind, RunOutcome, RunRecord } from '../runs.js';
import { mainSessionKey, resolveSession, type ResolvedSession } from '../session-keys.js';
import type { MethodDeps, MethodHandlers } from './context.js';

const DEFAULT_WAIT_MS = 30_000;
/** The longest `agent.wait` may hold a request open. */
const MAX_WAIT_MS = 10 * 60_000;

/** The core's codes for a key the store refused at the turn's start. */
const KEY_REFUSALS = new Set(['idempotency_key_in_use', 'idempotency_key_reused']);

/** SHA-256 one-shot (half the CPU of `createHash().update().digest()` on a run's few hundred bytes). */
const fingerprintOf = (value: unknown): string => hash('sha256', JSON.stringify(value), 'base64url');

/** The final of a run as this request's answer: its payload, or an error carrying it. */
function answer(outcome: RunOutcome): unknown {
  const { response } = outcome;
  if (response.ok) return response.payload;
  const error = response.error ?? { code: 'UNAVAILABLE', message: 'The run failed.' };
  throw new ProtocolError(error.code as ProtocolErrorCode, error.message, {
    payload: response.payload,
    ...(error.details === undefined ? {} : { details: error.details }),
    ...(error.retryable === undefined ? {} : { retryable: error.retryable }),
    ...(error.retryAfterMs === undefined ? {} : { retryAfterMs: error.retryAfterMs }),
  });
}

/** Reference attachments (`{type, mimeType, content}` base64) as image references; others are refused. */
function imagesOf(attachments: unknown[] | undefined, method: string): { url: string }[] {
  return (attachments ?? []).map((raw, i) => {
    const item = raw as { mimeType?: unknown; content?: unknown };
    if (typeof item?.mimeType !== 'string' || !item.mimeType.startsWith('image/') || typeof item.content !== 'string' || item.content === '') {
      throw invalidRequest(`invalid ${method} params: attachments[${i}] must be an image: {mimeType: "image/...", content: <base64>}`, { param: `attachments[${i}]` });
    }
    return { url: `data:${item.mimeType};base64,${item.content}` };
  });
}

export function runMethods(deps: MethodDeps): Pick<MethodHandlers, 'agent' | 'agent.wait' | 'chat.send' | 'chat.abort'> {
  const { core, runs } = deps;

  /**
   * Starts the turn (routing errors throw here, before anything is accepted), after
   * looking its idempotency key up in the store, shared by every replica: a key another
   * replica completed replays that turn (nothing runs), one it is still running is
   * `UNAVAILABLE` (retry); a free key is claimed with the turn's start, in the same
   * write. Repeats reaching this process join the run before this (`RunRegistry`).
   */
  async function startTurn(record: RunRecord, message: string, images: { url: string }[], system: string | undefined, timeoutSeconds: number | undefined): Promise<StartedTurn> {
    const input: TurnMessage[] = [...(system ? [{ role: 'system' as const, content: system }] : []), { role: 'user', content: message, ...(images.length > 0 ? { images } : {}) }];
    const request: TurnRequest = { agentId: record.agentId, sessionKey: record.key, input, timeoutSeconds };
    let release: (() => void) | undefined;
    try {
      const claimed = await core.claimIdempotencyKey<{ runId: string }>({ scope: `ws:${record.kind}`, key: record.runId, fingerprint: record.fingerprint });
      // A WS run always names its session (the canonical key): an explicit session.
      if (claimed.kind === 'replay') return { agentId: record.agentId, sessionKey: record.key, sessionKind: 'explicit', events: claimed.events };
      release = claimed.release;
      const turn = core.startTurn(Object.assign({}, request, { idempotency: claimed.idempotency }), record.controller.signal);
      return Object.assign({}, turn, { events: claimed.guard(turn.events, { runId: record.runId }) });
    } catch (err) {
      release?.();
      runs.discard(record);
      record.settle({ status: 'error', endedAt: Date.now(), response: { ok: false, payload: undefined, error: toErrorShape(err) } });
      throw err;
    }
  }

  /**
   * Streams the run once the accepting response is out: at once when it was sent already
   * (`agent`: its first event then shares the response's socket write, a write less per
   * run), else on the next turn of the event loop, after the method's own response.
   */
  function launch(record: RunRecord, turn: StartedTurn, accepted: boolean): void {
    const agent = core.agents.find((a) => a.id === record.agentId);
    const target = { provider: agent?.provider ?? '', model: agent?.model ?? '' };
    const stream = (): void => {
      streamRun(record, turn, target, () => record.abortCause ?? 'client').then(
        (outcome) => {
          record.settle(outcome);
          // The store refused the key at the turn's start (another replica took it meanwhile):
          // nothing ran here, so a retry looks the key up again instead of getting this refusal.
          if (KEY_REFUSALS.has((outcome.response.error?.details as { code?: string } | undefined)?.code ?? '')) runs.discard(record);
        },
        () => record.settle({ status: 'error', endedAt: Date.now(), errorMessage: 'The run failed.', response: { ok: false, payload: { runId: record.runId, status: 'error', summary: 'The run failed.' }, error: { code: 'UNAVAILABLE', message: 'The run failed.' } } }),
      );
    };
    if (accepted) stream();
    else setImmediate(stream);
  }

  /** The run that used the key before, after checking it was for the same request. */
  function repeated(kind: RunKind, key: string, fingerprint: string, method: string): RunRecord | undefined {
    const existing = runs.find(kind, key);
    if (existing && existing.fingerprint !== fingerprint) {
      throw invalidRequest(`invalid ${method} params: idempotencyKey was used for a different request within the last 10 minutes`, { param: 'idempotencyKey' });
    }
    return existing;
  }

  function agentSession(params: AgentParams): ResolvedSession {
    if (params.sessionKey?.trim()) return resolveSession(core, params.sessionKey, params.agentId, 'agent');
    const agentId = (params.agentId ?? core.defaultAgentId).trim().toLowerCase();
    return resolveSession(core, mainSessionKey(agentId), params.agentId === undefined ? undefined : agentId, 'agent');
  }

  return {
    async agent(params, { connection, respond }) {
      const session = agentSession(params);
      const message = params.message.trim();
      if (message === '') throw invalidRequest('invalid agent params: message must not be blank', { param: 'message' });
      if (params.timeout === 0) throw invalidRequest('invalid agent params: timeout must be a positive number of seconds', { param: 'timeout' });
      const fingerprint = fingerprintOf(['agent', session, message, params.extraSystemPrompt ?? null, params.attachments ?? null]);
      const accepted = (record: RunRecord) => ({ runId: record.runId, status: 'accepted' as const, acceptedAt: record.acceptedAt });
      const existing = repeated('agent', params.idempotencyKey, fingerprint, 'agent');
      if (existing) {
        if (!existing.outcome) {
          respond(accepted(existing));
          runs.watch(existing, connection);
        }
        return answer(await existing.done) as never;
      }
      const images = imagesOf(params.attachments, 'agent');
      const record = runs.create('agent', params.idempotencyKey, { sessionKey: params.sessionKey?.trim() || session.key, ...session }, fingerprint);
      const turn = await startTurn(record, message, images, params.extraSystemPrompt, params.timeout);
      runs.watch(record, connection);
      respond(accepted(record));
      connection.linger();
      launch(record, turn, true);
      return answer(await record.done) as never;
    },

    async 'chat.send'(params: ChatSendParams, { connection }) {
      const session = resolveSession(core, params.sessionKey, undefined, 'chat.send');
      const message = params.message.trim();
      if (message === '') throw invalidRequest('invalid chat.send params: message must not be blank', { param: 'message' });
      const runId = params.idempotencyKey;
      if (message === '/stop') {
        const stopped = runs.running(session.agentId, session.key);
        for (const record of stopped) record.abort('rpc');
        core.sessions.abort(session.agentId, session.key);
        return { runId, status: 'ok', summary: `stopped ${stopped.length} run(s)` };
      }
      const fingerprint = fingerprintOf(['chat', session, message, params.attachments ?? null]);
      const existing = repeated('chat', runId, fingerprint, 'chat.send');
      if (existing) {
        if (!existing.outcome) {
          runs.watch(existing, connection);
          return { runId, status: 'in_flight' };
        }
        const { response } = existing.outcome;
        return response.ok ? { runId, status: 'ok' } : { runId, status: 'error', summary: existing.outcome.errorMessage ?? 'The run failed.' };
      }
      const images = imagesOf(params.attachments, 'chat.send');
      const record = runs.create('chat', runId, { sessionKey: params.sessionKey.trim(), ...session }, fingerprint);
      // `timeoutMs` 0 means the agent's own limit, as in the reference.
      const turn = await startTurn(record, message, images, undefined, params.timeoutMs ? params.timeoutMs / 1000 : undefined);
      runs.watch(record, connection);
      launch(record, turn, false);
      return { runId, status: 'started' };
    },

    async 'chat.abort'(params) {
      const session = resolveSession(core, params.sessionKey, undefined, 'chat.abort');
      if (params.runId !== undefined) {
        const record = runs.byId(params.runId);
        if (!record || record.outcome) return { ok: true, aborted: false, runIds: [] };
        if (record.agentId !== session.agentId || record.key !== session.key) throw invalidRequest('runId does not match sessionKey', { param: 'runId' });
        record.abort('rpc');
        return { ok: true, aborted: true, runIds: [record.runId] };
      }
      const aborted = runs.running(session.agentId, session.key);
      for (const record of aborted) record.abort('rpc');
      // Turns of the session started over HTTP (or `moltbot agent --local` is another process: not these).
      const others = core.sessions.abort(session.agentId, session.key) - aborted.length;
      return { ok: true, aborted: aborted.length > 0 || others > 0, runIds: aborted.map((r) => r.runId) };
    },

    async 'agent.wait'(params, { connection }) {
      const waitMs = Math.min(params.timeoutMs ?? DEFAULT_WAIT_MS, MAX_WAIT_MS);
      const result = (record: RunRecord) => {
        const outcome = record.outcome as RunOutcome;
        return {
          runId: record.runId,
          status: outcome.status === 'ok' || outcome.status === 'aborted' ? ('ok' as const) : ('error' as const),
          startedAt: record.acceptedAt,
          endedAt: outcome.endedAt,
          ...(outcome.status === 'ok' || outcome.errorMessage === undefined ? {} : { error: outcome.errorMessage }),
        };
      };
      const record = runs.byId(params.runId);
      if (record?.outcome) return result(record);
      if (!record || waitMs === 0) return { runId: params.runId, status: 'timeout' };
      let timer: NodeJS.Timeout | undefined;
      let onClose: (() => void) | undefined;
      const gaveUp = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), waitMs);
        onClose = () => resolve('timeout');
        connection.onClose(onClose);
      });
      try {
        const ended = await Promise.race([record.done, gaveUp]);
        return ended === 'timeout' ? { runId: params.runId, status: 'timeout' } : result(record);
      } finally {
        clearTimeout(timer);
        if (onClose) connection.offClose(onClose);
      }
    },
  };
}
