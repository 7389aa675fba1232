/**
 * The store implementations the contract suite runs against: SQLite (always) and
 * PostgreSQL (with `MOLTBOT_TEST_DATABASE_URL`). A location is one empty store; each
 * `open()` opens it again as another process would (its own connection and instance).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach } from 'vitest';
import { openPostgresStore } from '../../src/sessions/postgres/store.js';
import { openSqliteStore } from '../../src/sessions/sqlite-store.js';
import type { SessionStore, StoreEvents } from '../../src/sessions/store.js';
import { DATABASE_URL, HAS_POSTGRES, dropSchemas, freshSchema } from '../helpers/postgres.js';

export interface StoreLocation {
  /** Opens the store (another process on the same store), telling `events`; closed after the test. */
  open(events?: StoreEvents): Promise<SessionStore>;
  /** Opens it without closing it after the test (the test closes it). */
  openUnmanaged(events?: StoreEvents): Promise<SessionStore>;
}

export interface StoreKind {
  name: 'sqlite' | 'postgres';
  skip: boolean;
  location(): StoreLocation;
}

const opened: SessionStore[] = [];
afterEach(async () => {
  for (const store of opened.splice(0)) await store.close();
});
afterAll(dropSchemas);

function location(openOne: (events?: StoreEvents) => Promise<SessionStore>): StoreLocation {
  return {
    async open(events) {
      const store = await openOne(events);
      opened.push(store);
      return store;
    },
    openUnmanaged: openOne,
  };
}

export const STORES: StoreKind[] = [
  {
    name: 'sqlite',
    skip: false,
    location() {
      const path = join(mkdtempSync(join(tmpdir(), 'moltbot-store-')), 'nested', 'sessions.sqlite');
      return location(async (events = {}) => openSqliteStore(path, events));
    },
  },
  {
    name: 'postgres',
    skip: !HAS_POSTGRES,
    location() {
      const schema = freshSchema('store');
      // The periodic sweep stays out of the way: tests call it when they mean to.
      return location((events) => openPostgresStore({ url: DATABASE_URL ?? '', schema, poolSize: 4, sweepIntervalMs: 60_000 }, events));
    },
  },
];
