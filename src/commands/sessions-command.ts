/**
 * `moltbot sessions list|show|prune`: reads the session store, or deletes old transcripts
 * from it. All of them work beside a running gateway (prune waits for the write lock and
 * holds it for one small batch at a time).
 */
import { parseArgs } from 'node:util';
import { canonicalSessionKey } from '../agents/routing.js';
import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { openStore, storePath } from '../app.js';
import { parseDuration } from '../config/duration.js';
import type { GatewayConfig } from '../config/types.js';
import { runPostgresMigrations } from '../sessions/postgres/migrate.js';
import { pendingSqliteMigrations } from '../sessions/sqlite-schema.js';
import { openSqliteStore } from '../sessions/sqlite-store.js';
import type { PruneOptions, PruneResult, SessionInfo, SessionKind, Turn } from '../sessions/store.js';
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

const KINDS: readonly SessionKind[] = ['stateless', 'user', 'explicit'];

/** `--older-than` and `--kind` as `PruneOptions.olderThan`. */
function pruneAges(olderThan: string | undefined, kind: string | undefined): PruneOptions['olderThan'] {
  if (olderThan === undefined) throw new UsageError('sessions prune needs --older-than DURATION (e.g. 30d, 12h, 15m, 0s)');
  const ms = parseDuration(olderThan);
  if (ms === undefined) throw new UsageError(`--older-than: '${olderThan}' is not a duration: a whole number and s, m, h or d (e.g. 30d, 12h, 0s)`);
  if (kind !== undefined && !KINDS.includes(kind as SessionKind)) throw new UsageError(`--kind must be one of ${KINDS.join(', ')}`);
  const kinds = kind === undefined ? KINDS : [kind as SessionKind];
  return Object.fromEntries(kinds.map((k) => [k, ms]));
}

function pruneText(result: PruneResult, dryRun: boolean): string {
  const what = `${result.sessions} transcript${result.sessions === 1 ? '' : 's'} (${result.turns} turn${result.turns === 1 ? '' : 's'})`;
  if (dryRun) return `would prune ${what}`;
  return `pruned ${what}; ${(result.reclaimedBytes / 1024 / 1024).toFixed(1)} MiB given back to the file system`;
}

/**
 * `sessions migrate [--dry-run]`: the store's pending schema migrations, printed (their
 * SQL on PostgreSQL) or applied. Stores migrate themselves when they open; this lets an
 * operator see or run that step first.
 */
async function migrateCommand(config: GatewayConfig, dryRun: boolean): Promise<void> {
  const database = config.store.database;
  if (database.kind === 'postgres') {
    const { kind: _kind, ...options } = database;
    const migrations = await runPostgresMigrations(options, dryRun);
    if (migrations.length === 0) return print('up to date');
    for (const m of migrations) print(`-- migration ${m.version}: ${m.name}${dryRun ? ' (pending)' : ' (applied)'}\n${m.sql.trim()}\n`);
    return;
  }
  const path = storePath(config);
  let pending;
  const db = existsSync(path) ? new Database(path, { readonly: true, fileMustExist: true }) : undefined;
  try {
    pending = pendingSqliteMigrations(db);
  } finally {
    db?.close();
  }
  if (pending.length === 0) return print('up to date');
  // Opening the store migrates it.
  if (!dryRun) await openSqliteStore(path).close();
  for (const m of pending) print(`migration ${m.version}: ${m.name} (${dryRun ? 'pending' : 'applied'})`);
}

export async function sessionsCommand(argv: string[]): Promise<void> {
  const [action, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    strict: true,
    allowPositionals: true,
    options: {
      agent: { type: 'string' },
      json: { type: 'boolean', default: false },
      config: { type: 'string' },
      'older-than': { type: 'string' },
      kind: { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
    },
  });
  if (action !== 'list' && action !== 'show' && action !== 'prune' && action !== 'migrate') throw new UsageError(`sessions needs 'list', 'show', 'prune' or 'migrate'`);
  if (action === 'show' && positionals.length !== 1) throw new UsageError('sessions show needs exactly one KEY');
  if (action !== 'show' && positionals.length > 0) throw new UsageError(`sessions ${action} takes no KEY`);
  if (action !== 'prune' && (values['older-than'] !== undefined || values.kind !== undefined)) {
    throw new UsageError('--older-than and --kind belong to sessions prune');
  }
  if (action !== 'prune' && action !== 'migrate' && values['dry-run']) throw new UsageError('--dry-run belongs to sessions prune and sessions migrate');
  const olderThan = action === 'prune' ? pruneAges(values['older-than'], values.kind) : {};
  const config = loadConfig(values.config);
  if (action === 'migrate') return migrateCommand(config, values['dry-run']);
  const { store } = await openStore(config);
  try {
    if (action === 'prune') {
      const dryRun = values['dry-run'];
      const result = await store.prune({ olderThan, dryRun, ...(values.agent === undefined ? {} : { agentId: values.agent.toLowerCase() }) });
      print(values.json ? JSON.stringify({ dryRun, ...result }) : pruneText(result, dryRun));
      return;
    }
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
