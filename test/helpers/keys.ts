/** Session keys in tests. */

/**
 * The agent a key with an `agent:<id>:` prefix belongs to (every key the gateway derives
 * has one): to read a turn back by the key a response carried.
 */
export function keyAgent(key: string): string {
  const agent = /^agent:([^:]+):/u.exec(key)?.[1];
  if (agent === undefined) throw new Error(`session key '${key}' has no agent prefix`);
  return agent;
}
