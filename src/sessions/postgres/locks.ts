/**
 * Advisory lock keys. Every lock the store takes is a two-int lock whose first int names
 * what it serialises (PostgreSQL keeps these apart from single-bigint locks, which are
 * the replicas' instance locks: `liveness.ts`). Two stores in different schemas of one
 * database share the space; a collision only makes two unrelated things wait for each
 * other, never breaks one.
 */
export const LOCK = {
  /** Turn starts of one session (agent, key): `hashtext(agent || '\n' || key)`. */
  session: 1836018804,
  /** Applying migrations to one schema: `hashtext(schema)`. */
  migrate: 1836018805,
  /** The periodic sweep of dead replicas' turns, expired keys and counters, per schema. */
  sweep: 1836018806,
  /** A retention (prune) pass, per schema. */
  prune: 1836018807,
} as const;

/** The prefix of a replica's instance lock key: `hashtextextended(prefix || id, 0)`. */
export const INSTANCE_LOCK_PREFIX = 'moltbot-instance:';
