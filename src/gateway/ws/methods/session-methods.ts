/**
 * The session methods: `sessions.list`, `sessions.preview`, `sessions.reset`,
 * `sessions.delete` and `chat.history`, over the core's session access. Keys are
 * canonicalised as `session-keys.ts` says; results name a session by its canonical key,
 * except `chat.history` and previews, which echo the key as sent.
 */
import type { PreviewItem } from '../../../../generated/ws/types.js';
import { SessionConflict, type Turn } from '../../../agents/core-api.js';
import { invalidRequest, unavailable } from '../protocol-errors.js';
import { mainSessionKey, resolveSession } from '../session-keys.js';
import { STORE_LABEL, sessionRow, visible } from './info-methods.js';
import type { MethodDeps, MethodHandlers } from './context.js';

/** Sessions `sessions.list` returns at most. */
const MAX_LIST = 1000;
const MAX_PREVIEW_KEYS = 64;

const clip = (text: string, max: number): string => (text.length > max ? `${text.slice(0, max - 3)}...` : text);

/** A turn's messages as the reference's transcript messages (pi-ai shapes), oldest first. */
function transcriptMessages(turn: Turn): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const names = new Map<string, string>();
  for (const message of [...turn.input, ...(turn.reply ? [turn.reply] : [])]) {
    const timestamp = message === turn.reply ? (turn.endedAt ?? turn.startedAt) : turn.startedAt;
    if (message.role === 'user') {
      const images = (message.images ?? []).map((image) => ({ type: 'image', data: image.data, mimeType: image.mimeType }));
      out.push({ role: 'user', content: [{ type: 'text', text: message.content }, ...images], timestamp });
    } else if (message.role === 'assistant') {
      const calls = (message.toolCalls ?? []).map((call) => {
        names.set(call.id, call.name);
        let args: unknown = {};
        try {
          args = JSON.parse(call.arguments || '{}');
        } catch {
          args = {};
        }
        return { type: 'toolCall', id: call.id, name: call.name, arguments: args };
      });
      const failed = message === turn.reply && turn.status !== 'ok';
      const usage = turn.usage && message === turn.reply ? turn.usage : undefined;
      out.push({
        role: 'assistant',
        content: [...(message.content ? [{ type: 'text', text: message.content }] : []), ...calls],
        ...(usage ? { usage: { input: usage.promptTokens, output: usage.completionTokens, cacheRead: 0, cacheWrite: 0, totalTokens: usage.totalTokens } } : {}),
        stopReason: failed ? (turn.status === 'aborted' || turn.status === 'interrupted' ? 'aborted' : 'error') : turn.finishReason === 'tool_calls' ? 'toolUse' : (turn.finishReason ?? 'stop'),
        ...(failed && turn.error ? { errorMessage: turn.error.message } : {}),
        timestamp,
      });
    } else {
      out.push({ role: 'toolResult', toolCallId: message.toolCallId, toolName: names.get(message.toolCallId) ?? '', content: [{ type: 'text', text: message.content }], isError: false, timestamp });
    }
  }
  return out;
}

/** A transcript message as a preview item. */
function previewItem(message: Record<string, unknown>, maxChars: number): PreviewItem {
  const content = message.content as { type: string; text?: string; name?: string }[];
  const text = content.filter((c) => c.type === 'text').map((c) => c.text ?? '').join('\n');
  const calls = content.filter((c) => c.type === 'toolCall').map((c) => c.name ?? '');
  const role = message.role === 'user' ? 'user' : message.role === 'toolResult' || (text === '' && calls.length > 0) ? 'tool' : 'assistant';
  const shown = text !== '' ? text : calls.length > 0 ? `call ${calls.slice(0, 2).join(', ')}${calls.length > 2 ? ` +${calls.length - 2}` : ''}` : '[image]';
  return { role, text: clip(shown, maxChars) };
}

export function sessionMethods(deps: MethodDeps): Pick<MethodHandlers, 'sessions.list' | 'sessions.preview' | 'sessions.reset' | 'sessions.delete' | 'chat.history'> {
  const { core } = deps;
  return {
    async 'sessions.list'(params) {
      const now = Date.now();
      const agentId = params.agentId?.trim().toLowerCase();
      let sessions = visible(await core.sessions.list(agentId === undefined ? {} : { agentId }));
      // Only the current transcript of each key (a reset leaves older ones behind).
      const seen = new Set<string>();
      sessions = sessions.filter((s) => !seen.has(`${s.agentId}\n${s.key}`) && seen.add(`${s.agentId}\n${s.key}`));
      // No labels or spawning here: those filters match nothing.
      if (params.label !== undefined || params.spawnedBy !== undefined) sessions = [];
      const search = params.search?.trim().toLowerCase();
      if (search) sessions = sessions.filter((s) => s.key.toLowerCase().includes(search) || s.id.toLowerCase().includes(search));
      if (params.activeMinutes !== undefined) sessions = sessions.filter((s) => s.updatedAt >= now - (params.activeMinutes as number) * 60_000);
      sessions = sessions.slice(0, Math.min(params.limit ?? MAX_LIST, MAX_LIST));
      const rows = await Promise.all(
        sessions.map(async (session) => {
          const row = sessionRow(session, deps, now);
          if (!params.includeDerivedTitles && !params.includeLastMessage) return row;
          const messages = (await core.sessions.turns(session.agentId, session.key)).flatMap(transcriptMessages);
          const textOf = (m: Record<string, unknown> | undefined) => (m ? previewItem(m, 2000).text.replace(/\s+/gu, ' ').trim() : '');
          if (params.includeDerivedTitles) {
            const first = textOf(messages.find((m) => m.role === 'user'));
            row.derivedTitle = first ? clip(first, 60) : `${session.id.slice(0, 8)} (${new Date(session.createdAt).toISOString().slice(0, 10)})`;
          }
          if (params.includeLastMessage) row.lastMessagePreview = textOf(messages.filter((m) => m.role === 'user' || m.role === 'assistant').at(-1));
          return row;
        }),
      );
      const agent = core.agents.find((a) => a.id === core.defaultAgentId);
      return { ts: now, path: STORE_LABEL, count: rows.length, defaults: { modelProvider: agent?.provider ?? '', model: agent?.model ?? '', contextTokens: null }, sessions: rows };
    },

    async 'sessions.preview'(params) {
      const limit = Math.min(Math.max(params.limit ?? 12, 1), 50);
      const maxChars = Math.min(Math.max(params.maxChars ?? 240, 20), 2000);
      const previews = await Promise.all(
        params.keys.slice(0, MAX_PREVIEW_KEYS).map(async (key) => {
          try {
            const session = resolveSession(core, key, undefined, 'sessions.preview');
            const turns = await core.sessions.turns(session.agentId, session.key);
            if (turns.length === 0) return { key, status: 'missing' as const, items: [] };
            const items = turns.flatMap(transcriptMessages).slice(-limit).map((m) => previewItem(m, maxChars));
            return { key, status: items.length === 0 ? ('empty' as const) : ('ok' as const), items };
          } catch {
            return { key, status: 'error' as const, items: [] };
          }
        }),
      );
      return { ts: Date.now(), previews };
    },

    async 'sessions.reset'(params) {
      if (params.key.trim() === '') throw invalidRequest('key required', { param: 'key' });
      const session = resolveSession(core, params.key, undefined, 'sessions.reset');
      const fresh = await core.sessions.reset(session.agentId, session.key);
      return {
        ok: true,
        key: session.key,
        entry: { sessionId: fresh.id, updatedAt: fresh.updatedAt, systemSent: false, abortedLastRun: false, inputTokens: 0, outputTokens: 0, totalTokens: 0 },
      };
    },

    async 'sessions.delete'(params) {
      if (params.key.trim() === '') throw invalidRequest('key required', { param: 'key' });
      const session = resolveSession(core, params.key, undefined, 'sessions.delete');
      const main = mainSessionKey(core.defaultAgentId);
      if (session.key === main && session.agentId === core.defaultAgentId) throw invalidRequest(`Cannot delete the main session (${main}).`, { param: 'key' });
      try {
        const deleted = await core.sessions.delete(session.agentId, session.key);
        return { ok: true, key: session.key, deleted, archived: [] };
      } catch (err) {
        if (err instanceof SessionConflict) throw unavailable(`Session ${session.key} is still active in another process; try again in a moment.`, 1000);
        throw err;
      }
    },

    async 'chat.history'(params) {
      const session = resolveSession(core, params.sessionKey, undefined, 'chat.history');
      const limit = Math.min(params.limit ?? 200, 1000);
      const current = await core.sessions.current(session.agentId, session.key);
      const turns = current ? await core.sessions.turns(session.agentId, session.key) : [];
      // Running turns show their input only (no partial reply).
      const messages = turns.flatMap((turn) => transcriptMessages(turn.status === 'running' ? (Object.assign({}, turn, { reply: undefined }) as Turn) : turn)).slice(-limit);
      return { sessionKey: params.sessionKey, ...(current ? { sessionId: current.id } : {}), messages, thinkingLevel: 'off' };
    },
  };
}
