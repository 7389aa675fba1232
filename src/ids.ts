/**
 * Ids the gateway mints for sessions. They are UUIDv7 (RFC 9562): time-ordered, so new
 * sessions land at the end of the store's indexes instead of on random pages. Measured
 * on the store alone (32 turns per transaction): 75 → 20 µs per turn against random v4
 * ids. Written here rather than taken from `uuid`, whose v7 draws fresh entropy per call
 * (3.9% of the gateway's CPU at c=32); Node's `randomUUID` draws from a pooled buffer.
 */
import { randomUUID } from 'node:crypto';

let lastMs = 0;
let sequence = 0;

/**
 * A new time-ordered UUIDv7: 48-bit Unix milliseconds, a 12-bit sequence that keeps ids
 * from one process strictly increasing within a millisecond, then 62 random bits.
 */
export function newSessionId(): string {
  const now = Date.now();
  if (now > lastMs) {
    lastMs = now;
    sequence = 0;
  } else if (++sequence > 0xfff) {
    // 4,096 ids in one millisecond: borrow the next one rather than repeat an order.
    lastMs += 1;
    sequence = 0;
  }
  const time = lastMs.toString(16).padStart(12, '0');
  // randomUUID() is `xxxxxxxx-xxxx-4xxx-Vxxx-xxxxxxxxxxxx`: keep its variant and random tail.
  return `${time.slice(0, 8)}-${time.slice(8)}-7${sequence.toString(16).padStart(3, '0')}-${randomUUID().slice(19)}`;
}
