/**
 * Which agent and which session a request runs in: the page's rules, in one place.
 */
import { agentNotFound, invalidRequest } from '../errors.js';
import { newSessionId } from '../ids.js';

const AGENT_ID = /^[a-z0-9][a-z0-9_-]{0,63}$/u;
const MODEL_PREFIXES = ['moltbot:', 'moltbot/', 'agent:'] as const;
/** A session key's agent prefix, `agent:<id>:...`, in any case (`Agent:Main:x`). */
const SESSION_AGENT = /^agent:([^:]*):/iu;

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
 * A key's `agent:<id>:` prefix in lower case (ids are case-insensitive), so `Agent:Main:x`
 * and `agent:main:x` are one session; the rest of the key is kept as it is. Returns the
 * key and the agent its prefix names, if it has one.
 */
export function canonicalSessionKey(key: string): { key: string; namedAgent: string | undefined } {
  const prefix = SESSION_AGENT.exec(key);
  if (!prefix) return { key, namedAgent: undefined };
  const namedAgent = (prefix[1] as string).toLowerCase();
  return { key: `agent:${namedAgent}:${key.slice(prefix[0].length)}`, namedAgent };
}

/**
 * The session key within the agent's sessions (a session is the pair agent and key: the
 * same bare key under two agents is two transcripts). An explicit key is used as given,
 * its `agent:<id>:` prefix lower-cased; a prefix naming another agent is a 400 that does
 * not name that agent. Else `agent:<id>:openai-user:<user>` for a non-empty `user`, else a
 * new random key.
 */
export function resolveSessionKey(
  input: { sessionKey?: string | undefined; user?: string | null | undefined },
  agentId: string,
  sources: RoutingSources,
): string {
  if (input.sessionKey !== undefined) {
    const { key, namedAgent } = canonicalSessionKey(input.sessionKey);
    if (namedAgent !== undefined && namedAgent !== agentId) {
      throw invalidRequest(
        `The session key's 'agent:<id>:' prefix names a different agent than the one this request runs ('${agentId}'); use a key with the prefix 'agent:${agentId}:' or without an agent prefix.`,
        sources.sessionKey,
        'session_agent_mismatch',
      );
    }
    return key;
  }
  if (input.user) return `agent:${agentId}:openai-user:${input.user}`;
  return `agent:${agentId}:openai:${newSessionId()}`;
}
