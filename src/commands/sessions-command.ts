/**
 * `moltbot sessions list|show|prune`: reads the session store, or deletes old transcripts
 * from it. All of them work beside a running gateway (prune waits for the write lock and
 * holds it for one small batch at a time).
 */
import { parseArgs } from 'node:util';
import { existsSync } from 'node:fs';
import { parseDuration } from '../config/duration.js';
import type { GatewayConfig } from '../config/types.js';
import { listSessionsReadOnly } from '../sessions/sqlite-reader.js';
import { storePath } from '../sessions/store-files.js';
import type { ListSessionsOptions, PruneOptions, PruneResult, SessionCursor, SessionInfo, SessionKind, SessionStore, Turn } from '../sessions/store.js';
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

/** Transcripts `sessions list` prints when `--limit` is not given. */
export const DEFAULT_LIST_LIMIT = 50;

/** A page's cursor as the CLI prints it: opaque, URL- and shell-safe. */
export function encodeCursor(cursor: SessionCursor): string {
  return Buffer.from(JSON.stringify([cursor.updatedAt, cursor.id])).toString('base64url');
}

function decodeCursor(text: string): SessionCursor {
  try {
    const value: unknown = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
    if (Array.isArray(value) && value.length === 2 && Number.isSafeInteger(value[0]) && typeof value[1] === 'string') {
      return { updatedAt: value[0] as number, id: value[1] };
    }
  } catch {
    // Not JSON: reported below like any other foreign text.
  }
  throw new UsageError(`--cursor: '${text}' is not a cursor printed by sessions list`);
}

function parseLimit(text: string | undefined): number {
  if (text === undefined) return DEFAULT_LIST_LIMIT;
  const limit = Number(text);
  if (!/^\d+$/u.test(text) || !Number.isSafeInteger(limit) || limit < 1) throw new UsageError(`--limit: '${text}' is not a whole number of at least 1`);
  return limit;
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
    const { runPostgresMigrations } = await import('../sessions/postgres/migrate.js');
    const migrations = await runPostgresMigrations(options, dryRun);
    if (migrations.length === 0) return print('up to date');
    for (const m of migrations) print(`-- migration ${m.version}: ${m.name}${dryRun ? ' (pending)' : ' (applied)'}\n${m.sql.trim()}\n`);
    return;
  }
  const path = storePath(config);
  const [{ default: Database }, { pendingSqliteMigrations }, { openSqliteStore }] = await Promise.all([
    import('better-sqlite3'),
    import('../sessions/sqlite-schema.js'),
    import('../sessions/sqlite-store.js'),
  ]);
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
      limit: { type: 'string' },
      cursor: { type: 'string' },
    },
  });
  if (action !== 'list' && action !== 'show' && action !== 'prune' && action !== 'migrate') throw new UsageError(`sessions needs 'list', 'show', 'prune' or 'migrate'`);
  if (action === 'show' && positionals.length !== 1) throw new UsageError('sessions show needs exactly one KEY');
  if (action !== 'show' && positionals.length > 0) throw new UsageError(`sessions ${action} takes no KEY`);
  if (action !== 'prune' && (values['older-than'] !== undefined || values.kind !== undefined)) {
    throw new UsageError('--older-than and --kind belong to sessions prune');
  }
  if (action !== 'prune' && action !== 'migrate' && values['dry-run']) throw new UsageError('--dry-run belongs to sessions prune and sessions migrate');
  if (action !== 'list' && (values.limit !== undefined || values.cursor !== undefined)) throw new UsageError('--limit and --cursor belong to sessions list');
  const limit = parseLimit(values.limit);
  const after = values.cursor === undefined ? undefined : decodeCursor(values.cursor);
  const olderThan = action === 'prune' ? pruneAges(values['older-than'], values.kind) : {};
  const config = loadConfig(values.config);
  if (action === 'migrate') return migrateCommand(config, values['dry-run']);
  if (action === 'list') {
    // One more than the page: whether there is a next one, without counting them all.
    const query: ListSessionsOptions = {
      limit: limit + 1,
      ...(after ? { after } : {}),
      ...(values.agent === undefined ? {} : { agentId: values.agent.toLowerCase() }),
    };
    // SQLite: read as is, without opening the store as a writer (sqlite-reader.ts), when it can be.
    const found = config.store.database.kind === 'postgres' ? undefined : listSessionsReadOnly(storePath(config), query);
    if (found) return printList(found, limit, values.json, values.agent);
    return withStore(config, async (store) => printList(await store.listSessions(query), limit, values.json, values.agent));
  }
  await withStore(config, async (store) => {
    if (action === 'prune') {
      const dryRun = values['dry-run'];
      const result = await store.prune({ olderThan, dryRun, ...(values.agent === undefined ? {} : { agentId: values.agent.toLowerCase() }) });
      print(values.json ? JSON.stringify({ dryRun, ...result }) : pruneText(result, dryRun));
      return;
    }
    const { canonicalSessionKey } = await import('../agents/routing.js');
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
  });
}

/** Opens the configured store (as the gateway does: migrated, dead instances' turns marked), runs `use`, closes it. */
async function withStore(config: GatewayConfig, use: (store: SessionStore) => Promise<void>): Promise<void> {
  // Loaded here: the agent core behind `openStore` is not needed by a read-only listing.
  const { openStore } = await import('../app.js');
  const { store } = await openStore(config);
  try {
    await use(store);
  } finally {
    await store.close();
  }
}

/** Prints a page of `sessions list` (`found`: up to one more than `limit`, telling whether there is a next page). */
function printList(found: SessionInfo[], limit: number, json: boolean, agent: string | undefined): void {
  const sessions = found.slice(0, limit);
  print(json ? JSON.stringify(sessions, null, 2) : listText(sessions));
  const last = sessions.at(-1);
  // On stderr: stdout stays the table or the JSON array, whatever the page.
  if (found.length > limit && last) process.stderr.write(`more sessions: moltbot sessions list --limit ${limit} --cursor ${encodeCursor(last)}${agent === undefined ? '' : ` --agent ${agent}`}\n`);
}
