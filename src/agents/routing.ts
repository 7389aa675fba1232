/**
 * Which agent and which session a request runs in: the page's rules, in one place.
 */
import { agentNotFound, invalidRequest } from '../errors.js';
import { newSessionId } from '../ids.js';

const AGENT_ID = /^[a-z0-9][a-z0-9_-]{0,63}$/u;
const MODEL_PREFIXES = ['moltbot:', 'moltbot/', 'agent:'] as const;
/** A session key's agent prefix: `agent:<id>:...`. */
const SESSION_AGENT = /^agent:([^:]*):/u;

/** Where each routing input came from, used as the `param` of a 4xx. */
export interface RoutingSources {
  agentId: string;
  sessionKey: string;
}

export const HTTP_SOURCES: RoutingSources = {
  agentId: 'x-moltbot-agent-id',
  sessionKey: 'x-moltbot-session-key',
};

function parseAgentId(raw: string, param: string): string {
  const id = raw.toLowerCase();
  if (!AGENT_ID.test(id)) {
    throw invalidRequest(
      `Invalid agent id '${raw.slice(0, 80)}' in ${param}: ids are 1-64 characters of a-z, 0-9, '_' and '-', starting with a letter or digit.`,
      param,
      'invalid_agent_id',
    );
  }
  return id;
}

/**
 * The agent a request names: the explicit id (header / `--agent`) wins, then a
 * `moltbot:<id>`, `moltbot/<id>` or `agent:<id>` model, else `defaultId`.
 * Throws 400 for a malformed id and 404 `model_not_found` for an unconfigured one.
 */
export function resolveAgentId(
  input: { agentId?: string | undefined; model: string },
  known: (id: string) => boolean,
  defaultId: string,
  sources: RoutingSources,
): string {
  let id = defaultId;
  let param = 'model';
  let requested = input.model;
  if (input.agentId !== undefined) {
    param = sources.agentId;
    requested = input.agentId;
    id = parseAgentId(input.agentId, param);
  } else {
    const prefix = MODEL_PREFIXES.find((p) => input.model.toLowerCase().startsWith(p));
    if (prefix) id = parseAgentId(input.model.slice(prefix.length), 'model');
  }
  if (!known(id)) throw agentNotFound(id, param, requested);
  return id;
}

/**
 * The session key: an explicit key verbatim (it may not name another agent), else
 * `agent:<id>:openai-user:<user>` for a non-empty `user`, else a new random key.
 */
export function resolveSessionKey(
  input: { sessionKey?: string | undefined; user?: string | null | undefined },
  agentId: string,
  sources: RoutingSources,
): string {
  if (input.sessionKey !== undefined) {
    const named = SESSION_AGENT.exec(input.sessionKey)?.[1];
    if (named !== undefined && named.toLowerCase() !== agentId) {
      throw invalidRequest(
        `Session key names agent '${named}' but the request runs agent '${agentId}'; a session key cannot cross agents.`,
        sources.sessionKey,
        'session_agent_mismatch',
      );
    }
    return input.sessionKey;
  }
  if (input.user) return `agent:${agentId}:openai-user:${input.user}`;
  return `agent:${agentId}:openai:${newSessionId()}`;
}
