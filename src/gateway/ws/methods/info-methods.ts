/**
 * Read-only methods about the gateway: `health`, `status`, `agents.list`, `models.list`,
 * `agent.identity.get`. Fields the reference fills from features this gateway does not
 * have (channels, heartbeats) are present and empty, so its clients print them; paths are
 * never shown (the store is named by its kind).
 */
import type { HealthResult, SessionRow } from '../../../../generated/ws/types.js';
import type { SessionInfo } from '../../../agents/core-api.js';
import { invalidRequest } from '../protocol-errors.js';
import { resolveSession } from '../session-keys.js';
import type { MethodDeps, MethodHandlers } from './context.js';

/** Sessions shown in `health`'s recent lists. */
const HEALTH_RECENT = 5;
/** Sessions shown in `status`'s recent list. */
const STATUS_RECENT = 10;
/** The store as results name it (never a path). */
export const STORE_LABEL = 'sessions-store';

/** Sessions clients see: those with a key someone chose (a per-request stateless key is nobody's session). */
export const visible = (sessions: SessionInfo[]): SessionInfo[] => sessions.filter((s) => s.kind !== 'stateless');

/** A transcript as a `sessions.list` / `status` row. */
export function sessionRow(session: SessionInfo, deps: MethodDeps, now: number): SessionRow {
  const agent = deps.core.agents.find((a) => a.id === session.agentId);
  return {
    key: session.key,
    kind: 'direct',
    agentId: session.agentId,
    updatedAt: session.updatedAt,
    sessionId: session.id,
    abortedLastRun: session.lastStatus === 'aborted',
    totalTokens: 0,
    ...(agent ? { modelProvider: agent.provider, model: agent.model } : {}),
    age: Math.max(0, now - session.updatedAt),
    flags: [`id:${session.id}`],
  };
}

export function infoMethods(deps: MethodDeps): Pick<MethodHandlers, 'health' | 'status' | 'agents.list' | 'models.list' | 'agent.identity.get'> {
  const { core } = deps;
  const defaultAgent = () => core.agents.find((a) => a.id === core.defaultAgentId);
  const summary = (sessions: SessionInfo[], now: number) => ({
    path: STORE_LABEL,
    count: sessions.length,
    recent: sessions.slice(0, HEALTH_RECENT).map((s) => ({ key: s.key, updatedAt: s.updatedAt, age: Math.max(0, now - s.updatedAt) })),
  });
  return {
    async health() {
      const started = performance.now();
      const now = Date.now();
      const sessions = visible(await core.sessions.list());
      const result: HealthResult = {
        ok: true,
        ts: now,
        durationMs: 0,
        channels: {},
        channelOrder: [],
        channelLabels: {},
        heartbeatSeconds: 0,
        defaultAgentId: core.defaultAgentId,
        agents: core.agents.map((agent) => ({
          agentId: agent.id,
          ...(agent.name ? { name: agent.name } : {}),
          isDefault: agent.id === core.defaultAgentId,
          heartbeat: { enabled: false, every: 'disabled', everyMs: null },
          sessions: summary(sessions.filter((s) => s.agentId === agent.id), now),
        })),
        sessions: summary(sessions, now),
      };
      result.durationMs = Math.round(performance.now() - started);
      return result;
    },
    async status() {
      const now = Date.now();
      const sessions = visible(await core.sessions.list());
      const agent = defaultAgent();
      return {
        heartbeat: { defaultAgentId: core.defaultAgentId, agents: core.agents.map((a) => ({ agentId: a.id, enabled: false, every: 'disabled', everyMs: null })) },
        channelSummary: [],
        queuedSystemEvents: [],
        sessions: {
          paths: [STORE_LABEL],
          count: sessions.length,
          defaults: agent ? { modelProvider: agent.provider, model: agent.model } : {},
          recent: sessions.slice(0, STATUS_RECENT).map((s) => sessionRow(s, deps, now)),
          byAgent: core.agents.map((a) => {
            const own = sessions.filter((s) => s.agentId === a.id);
            return { agentId: a.id, path: STORE_LABEL, count: own.length, recent: own.slice(0, STATUS_RECENT).map((s) => sessionRow(s, deps, now)) };
          }),
        },
      };
    },
    async 'agents.list'() {
      const ordered = [...core.agents].sort((a, b) => (a.id === core.defaultAgentId ? -1 : b.id === core.defaultAgentId ? 1 : a.id.localeCompare(b.id)));
      return { defaultId: core.defaultAgentId, mainKey: 'main', scope: 'per-sender', agents: ordered.map((a) => ({ id: a.id, ...(a.name ? { name: a.name } : {}) })) };
    },
    async 'models.list'() {
      const seen = new Map<string, { id: string; name: string; provider: string }>();
      for (const agent of core.agents) seen.set(`${agent.provider}/${agent.model}`, { id: agent.model, name: agent.model, provider: agent.provider });
      const models = [...seen.values()].sort((a, b) => a.provider.localeCompare(b.provider) || a.name.localeCompare(b.name));
      return { models };
    },
    async 'agent.identity.get'(params) {
      let agentId = params.agentId?.trim().toLowerCase();
      if (params.sessionKey?.trim()) agentId = resolveSession(core, params.sessionKey, agentId, 'agent.identity.get').agentId;
      agentId ??= core.defaultAgentId;
      const agent = core.agents.find((a) => a.id === agentId);
      if (!agent) throw invalidRequest(`invalid agent.identity.get params: unknown agent id "${agentId.slice(0, 80)}"`, { param: 'agentId' });
      return { agentId: agent.id, name: agent.name ?? 'Assistant', avatar: 'A' };
    },
  };
}
