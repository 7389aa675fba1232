/**
 * src/sessions/checkpointer.ts: with the writer's automatic checkpoints off, a worker
 * thread copies the WAL back into the database every WRITES_PER_CHECKPOINT writes, and a
 * WAL file grown past WAL_RESTART_BYTES is caught up with writes held, so that the next
 * write restarts the log and cuts the file back to WAL_KEPT_BYTES.
 */
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { WAL_KEPT_BYTES, WAL_RESTART_BYTES, createCheckpointer } from '../../src/sessions/checkpointer.js';

describe('background checkpointer', () => {
  it('checkpoints the WAL from a worker once enough writes are committed', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'moltbot-ckpt-')), 'db.sqlite');
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.pragma('wal_autocheckpoint = 0');
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
    let fellBack = false;
    const checkpointer = createCheckpointer(path, {
      holdWrites: () => () => undefined,
      fallBack: () => {
        fellBack = true;
      },
    });
    try {
      const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
      const sizeBefore = statSync(path).size;
      let result: Awaited<ReturnType<typeof checkpointer.committed>>;
      for (let i = 1; i <= 200; i += 1) {
        insert.run('x'.repeat(2000));
        const asked = checkpointer.committed(1);
        // Nothing is asked before the 200th write.
        if (i < 200) expect(asked).toBeUndefined();
        else result = await asked;
      }
      expect(result).toBeDefined();
      expect(result?.busy).toBe(0);
      // Every frame of the WAL is now in the database file itself.
      expect(result?.log).toBeGreaterThan(100);
      expect(result?.checkpointed).toBe(result?.log);
      expect(statSync(path).size).toBeGreaterThan(sizeBefore + 200 * 2000);
      expect(fellBack).toBe(false);
    } finally {
      await checkpointer.close();
      db.close();
    }
  });

  it(`restarts a WAL grown past ${WAL_RESTART_BYTES / 1024 / 1024} MiB: writes held while the worker copies it all, then the next write starts the log over`, async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'moltbot-ckpt-')), 'db.sqlite');
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.pragma('wal_autocheckpoint = 0');
    db.pragma(`journal_size_limit = ${WAL_KEPT_BYTES}`);
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
    const events: string[] = [];
    const checkpointer = createCheckpointer(path, {
      holdWrites: () => {
        events.push('hold');
        return () => events.push('release');
      },
      fallBack: () => events.push('fell back'),
    });
    try {
      const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
      const wal = `${path}-wal`;
      expect(await checkpointer.restartIfLarge()).toBeUndefined();
      expect(events).toEqual([]);
      // Grown without a complete checkpoint (as under writes that never pause).
      while (statSync(wal).size <= WAL_RESTART_BYTES) {
        db.transaction(() => {
          for (let i = 0; i < 200; i += 1) insert.run('x'.repeat(2000));
        })();
      }
      const result = await checkpointer.restartIfLarge();
      expect(events).toEqual(['hold', 'release']);
      expect(result).toMatchObject({ busy: 0 });
      expect(result?.checkpointed).toBe(result?.log);
      // The first write after it reuses the log from its start, and the file is cut back.
      insert.run('after');
      expect(statSync(wal).size).toBeLessThanOrEqual(WAL_KEPT_BYTES);
    } finally {
      await checkpointer.close();
      db.close();
    }
  });
});
