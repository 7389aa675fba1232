/** `moltbot sessions list|show`: reads the session store. */
import { parseArgs } from 'node:util';
import { canonicalSessionKey } from '../agents/routing.js';
import { storePath } from '../app.js';
import { openSqliteStore } from '../sessions/sqlite-store.js';
import type { SessionInfo, Turn } from '../sessions/store.js';
import { UsageError, loadConfig, print } from './shared.js';

const time = (ms: number): string => new Date(ms).toISOString();

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length))) ?? [];
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ')).join('\n');
}

function listText(sessions: SessionInfo[]): string {
  if (sessions.length === 0) return 'no sessions';
  const header = ['KEY', 'AGENT', 'KIND', 'CREATED', 'UPDATED', 'TURNS', 'LAST'];
  return table([header, ...sessions.map((s) => [s.key, s.agentId, s.kind, time(s.createdAt), time(s.updatedAt), String(s.turns), s.lastStatus ?? '-'])]);
}

function turnText(turn: Turn): string {
  const lines = [`#${turn.seq} ${turn.status} ${time(turn.startedAt)}`];
  for (const message of turn.input) lines.push(`  ${message.role}: ${message.content}`);
  if (turn.reply) lines.push(`  assistant: ${turn.reply.content}`);
  if (turn.error) lines.push(`  error: ${turn.error.type}${turn.error.code ? ` (${turn.error.code})` : ''}: ${turn.error.message}`);
  return lines.join('\n');
}

export async function sessionsCommand(argv: string[]): Promise<void> {
  const [action, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    strict: true,
    allowPositionals: true,
    options: { agent: { type: 'string' }, json: { type: 'boolean', default: false }, config: { type: 'string' } },
  });
  if (action !== 'list' && action !== 'show') throw new UsageError(`sessions needs 'list' or 'show'`);
  if (action === 'show' && positionals.length !== 1) throw new UsageError('sessions show needs exactly one KEY');
  const store = openSqliteStore(storePath(loadConfig(values.config)));
  try {
    if (action === 'list') {
      const sessions = await store.listSessions(values.agent === undefined ? {} : { agentId: values.agent.toLowerCase() });
      print(values.json ? JSON.stringify(sessions, null, 2) : listText(sessions));
      return;
    }
    // As requests do: `Agent:Main:x` is the session `agent:main:x`.
    const { key } = canonicalSessionKey(positionals[0] as string);
    const agentId = values.agent?.toLowerCase();
    const history = await store.sessionHistory(key, agentId === undefined ? {} : { agentId });
    if (history.length === 0) throw new UsageError(`no session with key '${key}'${agentId === undefined ? '' : ` for agent '${agentId}'`}`);
    if (values.json) {
      print(JSON.stringify(history, null, 2));
      return;
    }
    // Grouped by agent (the store returns them so): each agent's transcripts of the key are its own session.
    let agent: string | undefined;
    for (const { session, turns } of history) {
      if (session.agentId !== agent) {
        agent = session.agentId;
        print(`agent ${agent}\n`);
      }
      print(`${listText([session])}\n`);
      for (const turn of turns) print(turnText(turn));
      print('');
    }
  } finally {
    await store.close();
  }
}
