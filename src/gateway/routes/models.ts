/** `GET /v1/models` and `GET /v1/models/{model}`: the configured agents, as models. */
import type { ListModelsResponse, Model } from '../../../generated/client/types.gen.js';
import { modelNotFound } from '../../errors.js';
import type { HandlerInput, HandlerResult } from '../handler.js';

/** Other spellings of `moltbot:<id>` that chat requests take, answered as models too. */
const ALIASES = ['moltbot/', 'agent:'];

/**
 * The model ids clients may send: `moltbot` for the default agent, `moltbot:<id>` for
 * each (listed), and `moltbot/<id>` or `agent:<id>` (retrievable, not listed).
 */
export function createModelHandlers(agentIds: readonly string[], defaultAgentId: string, created: number) {
  const model = (id: string): Model => ({ id, object: 'model', created, owned_by: 'moltbot' });
  const models = [
    ...(agentIds.includes(defaultAgentId) ? [model('moltbot')] : []),
    ...agentIds.map((id) => model(`moltbot:${id}`)),
  ];
  const byId = new Map(models.map((m) => [m.id, m]));
  const list: ListModelsResponse = { object: 'list', data: models };

  return {
    async listModels(): Promise<HandlerResult> {
      return { kind: 'json', status: 200, body: list };
    },
    async retrieveModel({ params }: HandlerInput<unknown>): Promise<HandlerResult> {
      const requested = params.model ?? '';
      const id = requested.toLowerCase();
      const alias = ALIASES.find((prefix) => id.startsWith(prefix) && byId.has(`moltbot:${id.slice(prefix.length)}`));
      const found = byId.get(id) ?? (alias ? model(id) : undefined);
      if (!found) throw modelNotFound(requested);
      return { kind: 'json', status: 200, body: found };
    },
  };
}
