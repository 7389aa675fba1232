/**
 * Retention on PostgreSQL: the sessions table is walked in creation order a slice at a
 * time, and expired transcripts (their turns go with them: ON DELETE CASCADE) are
 * deleted in small statements that re-check, inside the delete, that the transcript was
 * not updated since the scan and has no running turn. One replica prunes at a time: a
 * pass first takes `pg_try_advisory_lock` (per schema) on its own connection, and a
 * replica that finds it taken skips its pass. PostgreSQL reuses the freed space
 * (autovacuum) rather than giving it back to the file system: `reclaimedBytes` is 0.
 */
import type { PruneOptions, PruneResult, SessionKind } from '../store.js';
import type { Database } from './database.js';
import { LOCK } from './locks.js';
import type { PgStatements } from './queries.js';

const SCAN_ROWS = 500;
const DELETE_BATCH = 100;

interface Candidate {
  n: number;
  id: string;
  kind: string;
  agent_id: string;
  updated_at: number;
  turns: number;
}

export function createPgPruner(db: Database, q: PgStatements, schema: string): (options: PruneOptions) => Promise<PruneResult> {
  return async (options) => {
    const result: PruneResult = { sessions: 0, turns: 0, reclaimedBytes: 0 };
    const now = options.now ?? Date.now();
    const expired = (row: Candidate): boolean => {
      const age = options.olderThan[row.kind as SessionKind];
      return age !== undefined && row.updated_at <= now - age && (options.agentId === undefined || row.agent_id === options.agentId);
    };
    const client = await db.pool.connect();
    let locked = false;
    try {
      if (!options.dryRun) {
        const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS locked', [LOCK.prune, schema]);
        locked = rows[0]?.locked === true;
        // Another replica is pruning this schema now.
        if (!locked) return result;
      }
      const [{ n: last } = { n: 0 }] = await db.query<{ n: number }>(q.lastN);
      for (let after = 0; ; ) {
        options.signal?.throwIfAborted();
        const rows = await db.query<Candidate>(q.scan, [after, last, SCAN_ROWS]);
        if (rows.length === 0) break;
        after = (rows.at(-1) as Candidate).n;
        const doomed = rows.filter(expired);
        if (options.dryRun) {
          const running = doomed.length === 0 ? [] : await db.query<{ session_id: string }>(
            { text: `SELECT DISTINCT session_id FROM ${q.schema}.turns WHERE session_id = ANY($1) AND status = 'running'` },
            [doomed.map((row) => row.id)],
          );
          const busy = new Set(running.map((row) => row.session_id));
          for (const row of doomed) {
            if (busy.has(row.id)) continue;
            result.sessions += 1;
            result.turns += row.turns;
          }
          continue;
        }
        for (let i = 0; i < doomed.length; i += DELETE_BATCH) {
          options.signal?.throwIfAborted();
          const batch = doomed.slice(i, i + DELETE_BATCH);
          const deleted = await db.query<{ turns: number }>(q.prune, [batch.map((row) => row.id), batch.map((row) => row.updated_at)]);
          result.sessions += deleted.length;
          result.turns += deleted.reduce((sum, row) => sum + row.turns, 0);
        }
      }
      return result;
    } finally {
      if (locked) await client.query('SELECT pg_advisory_unlock($1, hashtext($2))', [LOCK.prune, schema]).catch(() => undefined);
      client.release();
    }
  };
}
