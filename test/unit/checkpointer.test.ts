/**
 * src/sessions/checkpointer.ts: with the writer's automatic checkpoints off, a worker
 * thread copies the WAL back into the database every WRITES_PER_CHECKPOINT writes, and
 * empties the WAL file once it has grown past WAL_TRUNCATE_BYTES.
 */
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { WAL_TRUNCATE_BYTES, createCheckpointer } from '../../src/sessions/checkpointer.js';

describe('background checkpointer', () => {
  it('checkpoints the WAL from a worker once enough writes are committed', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'moltbot-ckpt-')), 'db.sqlite');
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.pragma('wal_autocheckpoint = 0');
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
    let fellBack = false;
    const checkpointer = createCheckpointer(path, () => {
      fellBack = true;
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
      expect(result?.truncated).toBe(false);
      expect(fellBack).toBe(false);
    } finally {
      await checkpointer.close();
      db.close();
    }
  });

  it(`empties a WAL that has grown past ${WAL_TRUNCATE_BYTES / 1024 / 1024} MiB (a passive checkpoint alone leaves the file as large)`, async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'moltbot-ckpt-')), 'db.sqlite');
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.pragma('wal_autocheckpoint = 0');
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
    const checkpointer = createCheckpointer(path, () => undefined);
    try {
      const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
      const wal = `${path}-wal`;
      // Grown without a checkpoint (as under writes that never pause).
      while (statSync(wal).size <= WAL_TRUNCATE_BYTES) {
        db.transaction(() => {
          for (let i = 0; i < 200; i += 1) insert.run('x'.repeat(2000));
        })();
      }
      const result = await checkpointer.committed(200);
      expect(result).toMatchObject({ busy: 0, truncated: true });
      expect(result?.checkpointed).toBe(result?.log);
      expect(statSync(wal).size).toBe(0);
      expect(db.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: expect.any(Number) });
    } finally {
      await checkpointer.close();
      db.close();
    }
  });
});
