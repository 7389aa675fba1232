/**
 * src/sessions/group-commit.ts: writes issued together share a `BEGIN IMMEDIATE`
 * transaction; `hold()` queues writes (their callers wait) until released, and
 * `whenOpen()` tells other writers when that is.
 */
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { createGroupCommit } from '../../src/sessions/group-commit.js';

const turnOfTheLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('group commit', () => {
  it('commits writes issued in one turn of the event loop in one transaction', async () => {
    const db = new Database(':memory:');
    db.exec('CREATE TABLE t (v INTEGER)');
    const commits: number[] = [];
    const group = createGroupCommit(db, { committed: (n) => commits.push(n) });
    const insert = db.prepare('INSERT INTO t VALUES (?)');
    await Promise.all([1, 2, 3].map((v) => group.enqueue(() => insert.run(v)).done));
    expect(commits).toEqual([3]);
    db.close();
  });

  it('holds commits while held: writes queue and wait, then commit together once released', async () => {
    const db = new Database(':memory:');
    db.exec('CREATE TABLE t (v INTEGER)');
    const commits: number[] = [];
    const group = createGroupCommit(db, { committed: (n) => commits.push(n) });
    const insert = db.prepare('INSERT INTO t VALUES (?)');
    const count = (): unknown => db.prepare('SELECT count(*) AS n FROM t').get();

    const release = group.hold();
    let open = false;
    void group.whenOpen().then(() => {
      open = true;
    });
    const first = group.enqueue(() => insert.run(1)).done;
    await turnOfTheLoop();
    const second = group.enqueue(() => insert.run(2)).done;
    await turnOfTheLoop();
    await turnOfTheLoop();
    expect(count()).toEqual({ n: 0 });
    expect(open).toBe(false);

    release();
    release(); // releasing twice changes nothing
    await Promise.all([first, second]);
    expect(count()).toEqual({ n: 2 });
    expect(commits).toEqual([2]);
    expect(open).toBe(true);
    await expect(group.whenOpen()).resolves.toBeUndefined();
    db.close();
  });
});
