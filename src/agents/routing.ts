/**
 * Which agent and which session a turn runs in: the page's rules, in one place. Errors
 * name the turn input at fault (`agentId`, `model`, `sessionKey`); each edge names those
 * its own way.
 */
import { stringSchemas } from '../../generated/spec-constants.js';
import { agentNotFound, invalidAgentId, sessionAgentMismatch } from '../domain/errors.js';
import { newSessionId } from '../ids.js';

/** The spec's agent id (`components.schemas.AgentId`); ids are kept in lower case. */
const AGENT_ID = new RegExp(stringSchemas.AgentId.pattern, 'u');
const MODEL_PREFIXES = ['moltbot:', 'moltbot/', 'agent:'] as const;
/** A session key's agent prefix, `agent:<id>:...`, in any case (`Agent:Main:x`). */
const SESSION_AGENT = /^agent:([^:]*):/iu;

function parseAgentId(raw: string, field: 'agentId' | 'model'): string {
  const id = raw.toLowerCase();
  if (!AGENT_ID.test(id)) throw invalidAgentId(raw, field);
  return id;
}

/**
 * The agent a turn names: the explicit `agentId` wins, then a `moltbot:<id>`,
 * `moltbot/<id>` or `agent:<id>` model, else `defaultId`. Throws 400 `invalid_agent_id`
 * for a malformed id and 404 `model_not_found` for an unconfigured one.
 */
export function resolveAgentId(
  input: { agentId?: string | undefined; model?: string | undefined },
  known: (id: string) => boolean,
  defaultId: string,
): string {
  let id = defaultId;
  let field: 'agentId' | 'model' = 'model';
  let requested = input.model ?? defaultId;
  if (input.agentId !== undefined) {
    field = 'agentId';
    requested = input.agentId;
    id = parseAgentId(input.agentId, field);
  } else if (input.model !== undefined) {
    const model = input.model;
    const prefix = MODEL_PREFIXES.find((p) => model.toLowerCase().startsWith(p));
    if (prefix) id = parseAgentId(model.slice(prefix.length), 'model');
  }
  if (!known(id)) throw agentNotFound(id, field, requested);
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
export function resolveSessionKey(input: { sessionKey?: string | undefined; user?: string | null | undefined }, agentId: string): string {
  if (input.sessionKey !== undefined) {
    const { key, namedAgent } = canonicalSessionKey(input.sessionKey);
    if (namedAgent !== undefined && namedAgent !== agentId) throw sessionAgentMismatch(agentId);
    return key;
  }
  if (input.user) return `agent:${agentId}:openai-user:${input.user}`;
  return `agent:${agentId}:openai:${newSessionId()}`;
}
