/**
 * Streams one run's turn out as protocol events to the connections watching it:
 * `agent` events (`lifecycle` start/end/error, `assistant` with the cumulative `text`
 * and the `delta` since the last one, at most every 50 ms, `tool` calls once complete) and `chat` events (`delta` with the
 * cumulative text at most every 150 ms and dropped for a slow client, then `final` with
 * the whole reply, `aborted` or `error`), both carrying the session key as the client
 * sent it. Ends the run's record with its outcome.
 */
import type { StartedTurn } from '../../agents/core-api.js';
import { RunAbortedError } from '../../domain/errors.js';
import type { FinishReason, ToolCall, Usage } from '../../domain/messages.js';
import { toErrorShape } from './protocol-errors.js';
import type { RunOutcome, RunRecord } from './runs.js';

/** The least time between two `chat` delta events of one run. */
export const CHAT_DELTA_INTERVAL_MS = 150;
/**
 * The least time between two `agent` assistant events of one run: each carries the
 * cumulative text, so one per model token would cost the square of the reply's length
 * (a 16 KB reply in 4,000 deltas: 32 MB of frames); deltas in between are joined.
 */
export const ASSISTANT_EVENT_INTERVAL_MS = 50;

const STOP_REASONS: Record<FinishReason, string> = { stop: 'stop', length: 'length', tool_calls: 'toolUse', content_filter: 'content_filter' };

export interface RunTarget {
  provider: string;
  model: string;
}

/** Why a run was aborted, for the `chat` aborted event's `stopReason`. */
export type AbortCause = 'rpc' | 'client' | 'shutdown';

export async function streamRun(record: RunRecord, turn: StartedTurn, target: RunTarget, abortCause: () => AbortCause): Promise<RunOutcome> {
  let agentSeq = 0;
  const agentEvent = (stream: string, data: Record<string, unknown>): void => {
    agentSeq += 1;
    const payload = { runId: record.runId, seq: agentSeq, stream, ts: Date.now(), data, sessionKey: record.sessionKey };
    for (const connection of record.watchers) connection.event('agent', payload);
  };
  const chatEvent = (state: 'delta' | 'final' | 'aborted' | 'error', extra: Record<string, unknown>, dropIfSlow = false): void => {
    const payload = { runId: record.runId, sessionKey: record.sessionKey, seq: agentSeq, state, ...extra };
    for (const connection of record.watchers) connection.event('chat', payload, dropIfSlow);
  };
  const message = (text: string, stopReason?: string) => ({
    role: 'assistant',
    content: [{ type: 'text', text }],
    timestamp: Date.now(),
    ...(stopReason ? { stopReason } : {}),
  });

  const startedAt = Date.now();
  agentEvent('lifecycle', { phase: 'start', startedAt });
  let text = '';
  let lastDeltaAt = 0;
  let lastAssistantAt = 0;
  let unsent = '';
  const flushAssistant = (): void => {
    if (unsent === '') return;
    agentEvent('assistant', { text, delta: unsent });
    unsent = '';
  };
  const toolCalls: (Partial<ToolCall> & { arguments: string })[] = [];
  let finishReason: FinishReason | undefined;
  let usage: Usage | undefined;
  try {
    for await (const event of turn.events) {
      if (event.type === 'delta') {
        text += event.text;
        unsent += event.text;
        const at = Date.now();
        if (at - lastAssistantAt >= ASSISTANT_EVENT_INTERVAL_MS) {
          lastAssistantAt = at;
          flushAssistant();
        }
        if (at - lastDeltaAt >= CHAT_DELTA_INTERVAL_MS) {
          lastDeltaAt = at;
          chatEvent('delta', { message: message(text) }, true);
        }
      } else if (event.type === 'tool_call') {
        const call = (toolCalls[event.index] ??= { arguments: '' });
        if (event.id) call.id = event.id;
        if (event.name) call.name = event.name;
        if (event.arguments) call.arguments += event.arguments;
      } else {
        finishReason = event.finishReason;
        usage = event.usage;
      }
    }
  } catch (err) {
    flushAssistant();
    const endedAt = Date.now();
    if (err instanceof RunAbortedError || record.controller.signal.aborted) {
      agentEvent('lifecycle', { phase: 'end', startedAt, endedAt, aborted: true });
      const cause = abortCause();
      chatEvent('aborted', { stopReason: cause });
      const errorMessage = cause === 'rpc' ? 'The run was aborted (chat.abort).' : 'The run was aborted.';
      return {
        status: 'aborted',
        endedAt,
        errorMessage,
        response: { ok: false, payload: { runId: record.runId, status: 'error', summary: errorMessage }, error: { code: 'UNAVAILABLE', message: errorMessage } },
      };
    }
    const error = toErrorShape(err);
    agentEvent('lifecycle', { phase: 'error', startedAt, endedAt, error: error.message });
    chatEvent('error', { errorMessage: error.message });
    return {
      status: error.code === 'AGENT_TIMEOUT' ? 'timeout' : 'error',
      endedAt,
      errorMessage: error.message,
      response: { ok: false, payload: { runId: record.runId, status: 'error', summary: error.message }, error },
    };
  }
  flushAssistant();
  for (const call of toolCalls) {
    if (!call) continue;
    let args: unknown = {};
    try {
      args = JSON.parse(call.arguments || '{}');
    } catch {
      args = { raw: call.arguments };
    }
    agentEvent('tool', { phase: 'start', name: call.name ?? '', toolCallId: call.id ?? '', args });
  }
  const endedAt = Date.now();
  const stopReason = finishReason ? STOP_REASONS[finishReason] : undefined;
  agentEvent('lifecycle', { phase: 'end', startedAt, endedAt, aborted: false });
  chatEvent('final', text === '' ? {} : { message: message(text, stopReason) });
  const result = {
    payloads: text === '' ? [] : [{ text, mediaUrl: null }],
    meta: {
      durationMs: endedAt - startedAt,
      agentMeta: {
        provider: target.provider,
        model: target.model,
        ...(usage ? { usage: { input: usage.promptTokens, output: usage.completionTokens, total: usage.totalTokens } } : {}),
      },
      aborted: false,
      ...(stopReason ? { stopReason } : {}),
      ...(toolCalls.length > 0 ? { pendingToolCalls: toolCalls.filter(Boolean).map((c) => ({ id: c.id ?? '', name: c.name ?? '', arguments: c.arguments })) } : {}),
    },
  };
  return { status: 'ok', endedAt, response: { ok: true, payload: { runId: record.runId, status: 'ok', summary: 'completed', result } } };
}
