/**
 * How the protocol's session keys map onto the store's (the reference's
 * `resolveSessionStoreKey`): `agent:<id>:<rest>` is canonical (its prefix lower-cased;
 * `agent:<id>:main` is that agent's main session); a bare key belongs to the request's
 * agent, else the default one: `main` becomes `agent:<agent>:main`, any other `k`
 * becomes `agent:<agent>:k`. Events and results echo the key as the client sent it;
 * only the store sees the canonical form. An HTTP request reaches the same session with
 * the canonical key in `x-moltbot-session-key`.
 */
import type { AgentCore } from '../../agents/core-api.js';
import { canonicalSessionKey } from '../../agents/routing.js';
import { invalidRequest } from './protocol-errors.js';

export interface ResolvedSession {
  agentId: string;
  /** The canonical key, `agent:<agentId>:...`. */
  key: string;
}

/** The canonical session of `raw` (trimmed), for `agentId` when given; unknown agents and mismatches are `INVALID_REQUEST`. */
export function resolveSession(core: AgentCore, raw: string, agentId: string | undefined, method: string): ResolvedSession {
  const trimmed = raw.trim();
  if (trimmed === '') throw invalidRequest(`invalid ${method} params: sessionKey must not be blank`, { param: 'sessionKey' });
  const requested = agentId?.trim().toLowerCase();
  if (requested !== undefined && !core.agents.some((agent) => agent.id === requested)) throw invalidRequest(`invalid ${method} params: unknown agent id "${agentId?.slice(0, 80)}"`, { param: 'agentId' });
  const { key, namedAgent } = canonicalSessionKey(trimmed);
  if (namedAgent !== undefined) {
    if (requested !== undefined && namedAgent !== requested) {
      throw invalidRequest(`invalid ${method} params: agent "${requested}" does not match session key agent "${namedAgent.slice(0, 80)}"`, { param: 'sessionKey' });
    }
    if (!core.agents.some((agent) => agent.id === namedAgent)) throw invalidRequest(`invalid ${method} params: unknown agent id "${namedAgent.slice(0, 80)}" in sessionKey`, { param: 'sessionKey' });
    return { agentId: namedAgent, key };
  }
  const owner = requested ?? core.defaultAgentId;
  return { agentId: owner, key: `agent:${owner}:${trimmed}` };
}

/** The main session of an agent: `agent:<id>:main`. */
export const mainSessionKey = (agentId: string): string => `agent:${agentId}:main`;
