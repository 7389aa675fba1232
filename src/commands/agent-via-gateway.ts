/**
 * `moltbot agent` through a running gateway: one `agent` request (expectFinal) over the
 * WebSocket protocol, its reply streamed from the run's `agent` events. The gateway
 * serialises it with the HTTP turns of the same session in its own lanes.
 */
import { randomUUID } from 'node:crypto';
import type { EventFrame } from '../../generated/ws/types.js';
import type { GatewayClient } from '../client/gateway-client.js';
import { describeFailure } from './gateway-connection.js';
import { print } from './shared.js';

export interface GatewayTurn {
  agentId: string;
  sessionKey: string;
  message: string;
  json: boolean;
}

interface FinalPayload {
  runId: string;
  status: string;
  result?: { payloads?: { text?: string }[]; meta?: { stopReason?: string; agentMeta?: { usage?: { input: number; output: number; total: number } } } };
}

const FINISH_REASONS: Record<string, string> = { stop: 'stop', length: 'length', toolUse: 'tool_calls', content_filter: 'content_filter' };

export async function agentViaGateway(client: GatewayClient, url: string, turn: GatewayTurn, signal: AbortSignal): Promise<void> {
  const runId = randomUUID();
  let streamed = '';
  const onEvent = (event: EventFrame): void => {
    const payload = event.payload as { runId?: string; stream?: string; data?: { delta?: string } };
    if (event.event !== 'agent' || payload.runId !== runId || payload.stream !== 'assistant' || !payload.data?.delta) return;
    streamed += payload.data.delta;
    if (!turn.json) process.stdout.write(payload.data.delta);
  };
  client.options.onEvent = onEvent;
  // Ctrl-C closes the socket: the gateway aborts the run, as for an HTTP client that leaves.
  const onAbort = (): void => client.stop();
  signal.addEventListener('abort', onAbort, { once: true });
  let final: FinalPayload;
  try {
    final = await client.request<FinalPayload>('agent', { message: turn.message, agentId: turn.agentId, sessionKey: turn.sessionKey, idempotencyKey: runId }, { expectFinal: true });
  } catch (err) {
    if (streamed && !turn.json) print('');
    throw describeFailure(err, url);
  } finally {
    signal.removeEventListener('abort', onAbort);
    client.stop();
  }
  const reply = final.result?.payloads?.map((p) => p.text ?? '').join('') ?? streamed;
  if (!turn.json) {
    // Events may have been dropped for a slow terminal; the final has the whole reply.
    if (reply.startsWith(streamed)) process.stdout.write(reply.slice(streamed.length));
    print('');
    return;
  }
  const usage = final.result?.meta?.agentMeta?.usage;
  const stop = final.result?.meta?.stopReason;
  print(
    JSON.stringify(
      {
        agentId: turn.agentId,
        sessionKey: turn.sessionKey,
        reply,
        finishReason: stop ? (FINISH_REASONS[stop] ?? stop) : 'stop',
        usage: usage ? { promptTokens: usage.input, completionTokens: usage.output, totalTokens: usage.total } : null,
        runId,
        via: url,
      },
      null,
      2,
    ),
  );
}
