/**
 * The agent core: resolves agent and session, builds the model request from the
 * agent's system prompt, the session's history and the new turn, streams the provider
 * and records the turn. HTTP and `moltbot agent` both run turns through `startTurn`.
 * It knows the provider interface only, never an adapter or the HTTP framework.
 */
import type { ChatCompletionRequestMessage } from '../../generated/client/types.gen.js';
import type { AgentConfig } from '../config/types.js';
import type { ModelMessage, ModelProvider, Usage, FinishReason } from '../providers/types.js';
import { historyOf, type SessionStore, type TranscriptMessage, type Turn } from '../sessions/store.js';
import { GatewayError, RunAbortedError, internalError, toGatewayError } from '../errors.js';
import type { AgentEvent } from './events.js';
import { splitMessages, type RequestTurn } from './messages.js';
import { HTTP_SOURCES, resolveAgentId, resolveSessionKey, type RoutingSources } from './routing.js';

/** One turn as asked for by a client. */
export interface TurnRequest {
  /** An explicit agent id (`x-moltbot-agent-id`, `--agent`); wins over `model`. */
  agentId?: string | undefined;
  /** OpenAI's `model` field. */
  model: string;
  sessionKey?: string | undefined;
  user?: string | null | undefined;
  messages: readonly ChatCompletionRequestMessage[];
}

/** A turn that has been routed and is ready to stream. */
export interface StartedTurn {
  agentId: string;
  sessionKey: string;
  /** Deltas then `done`; throws a `GatewayError` on failure. Iterate once. */
  events: AsyncIterable<AgentEvent>;
}

export interface AgentCoreDeps {
  agents: readonly AgentConfig[];
  defaultAgentId: string;
  store: SessionStore;
  /** The provider for an id from config; every agent's provider must exist. */
  provider: (id: string) => ModelProvider;
  now?: () => number;
}

export interface AgentCore {
  /**
   * Routes the request (400/404 `GatewayError`s are thrown here, before anything
   * streams) and returns the turn's event stream. Aborting `signal` stops the provider;
   * the turn is then recorded as `aborted`.
   */
  startTurn(request: TurnRequest, signal: AbortSignal, sources?: RoutingSources): StartedTurn;
}

/** Transcript messages are model messages already; the copy keeps the store's objects out of providers' hands. */
function toModelMessage(message: TranscriptMessage): ModelMessage {
  return { ...message };
}

export function createAgentCore(deps: AgentCoreDeps): AgentCore {
  const agents = new Map(deps.agents.map((agent) => [agent.id, agent]));
  const now = deps.now ?? Date.now;

  async function* run(
    agent: AgentConfig,
    sessionKey: string,
    turn: RequestTurn,
    signal: AbortSignal,
  ): AsyncGenerator<AgentEvent> {
    const startedAt = now();
    const history = historyOf(await deps.store.loadTurns(sessionKey));
    // A stored transcript is authoritative: only the request's new turn is added to it.
    const input = history.length > 0 ? turn.newTurn : turn.conversation;
    const systemText = [agent.systemPrompt, ...turn.instructions].filter((text) => text !== '').join('\n\n');
    const messages: ModelMessage[] = [
      ...(systemText === '' ? [] : [{ role: 'system' as const, content: systemText }]),
      ...[...history, ...input].map(toModelMessage),
    ];

    let reply = '';
    let usage: Usage | undefined;
    let finishReason: FinishReason | undefined;
    let recorded = false;
    const record = async (status: Turn['status'], failure?: GatewayError): Promise<void> => {
      recorded = true;
      await deps.store.appendTurn({
        sessionKey,
        agentId: agent.id,
        input,
        ...(reply === '' && status !== 'ok' ? {} : { reply: { role: 'assistant', content: reply } }),
        ...(turn.instructions.length > 0 ? { instructions: turn.instructions.join('\n\n') } : {}),
        status,
        ...(finishReason && status === 'ok' ? { finishReason } : {}),
        ...(usage ? { usage } : {}),
        ...(failure ? { error: { type: failure.type, code: failure.code, message: failure.message } } : {}),
        startedAt,
        endedAt: now(),
      });
    };

    try {
      for await (const event of deps.provider(agent.provider).stream({ model: agent.model, messages }, { signal })) {
        if (event.type === 'delta') {
          reply += event.text;
          yield { type: 'delta', text: event.text };
        } else if (event.type === 'usage') {
          usage = event.usage;
        } else {
          finishReason = event.reason;
        }
      }
      if (signal.aborted) throw new RunAbortedError();
      if (finishReason === undefined) throw internalError(new Error('provider ended without a finish event'));
      // The turn is committed before the client is told it is done.
      await record('ok');
      yield { type: 'done', finishReason, ...(usage ? { usage } : {}) };
    } catch (err) {
      if (recorded) throw err;
      const failure = err instanceof RunAbortedError ? undefined : toGatewayError(err);
      await record(failure ? 'error' : 'aborted', failure);
      throw failure ?? err;
    } finally {
      // The consumer stopped iterating early (client gone): keep what was said.
      if (!recorded) await record('aborted');
    }
  }

  return {
    startTurn(request, signal, sources = HTTP_SOURCES) {
      const agentId = resolveAgentId(request, (id) => agents.has(id), deps.defaultAgentId, sources);
      const sessionKey = resolveSessionKey(request, agentId, sources);
      // Split the messages now so a bad request is a 400 before anything streams.
      const turn = splitMessages(request.messages);
      const agent = agents.get(agentId) as AgentConfig;
      return { agentId, sessionKey, events: run(agent, sessionKey, turn, signal) };
    },
  };
}
