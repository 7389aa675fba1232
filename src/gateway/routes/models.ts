/** `GET /v1/models` and `GET /v1/models/{model}`: the configured agents, as models. */
import type { ListModelsResponse, Model } from '../../../generated/client/types.gen.js';
import type { OperationHandler } from '../handler.js';
import { modelNotFound } from '../http-errors.js';

/** Other spellings of `moltbot:<id>` that chat requests take, answered as models too. */
const ALIASES = ['moltbot/', 'agent:'];

/**
 * The model ids clients may send: `moltbot` for the default agent, `moltbot:<id>` for
 * each (listed), and `moltbot/<id>` or `agent:<id>` (retrievable, not listed).
 */
export function createModelHandlers(
  agentIds: readonly string[],
  defaultAgentId: string,
  created: number,
): { listModels: OperationHandler<'listModels'>; retrieveModel: OperationHandler<'retrieveModel'> } {
  const model = (id: string): Model => ({ id, object: 'model', created, owned_by: 'moltbot' });
  const models = [
    ...(agentIds.includes(defaultAgentId) ? [model('moltbot')] : []),
    ...agentIds.map((id) => model(`moltbot:${id}`)),
  ];
  const byId = new Map(models.map((m) => [m.id, m]));
  const list: ListModelsResponse = { object: 'list', data: models };

  return {
    async listModels() {
      return { kind: 'json', status: 200, body: list };
    },
    async retrieveModel({ params }) {
      const requested = params.model;
      const id = requested.toLowerCase();
      const alias = ALIASES.find((prefix) => id.startsWith(prefix) && byId.has(`moltbot:${id.slice(prefix.length)}`));
      const found = byId.get(id) ?? (alias ? model(id) : undefined);
      if (!found) throw modelNotFound(requested);
      return { kind: 'json', status: 200, body: found };
    },
  };
}
