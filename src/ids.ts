/**
 * Ids the gateway mints for sessions. They are UUIDv7: time-ordered, so new sessions
 * land at the end of the store's indexes instead of on random pages. Measured on the
 * store alone (32 turns per transaction): 75 → 20 µs per turn against random v4 ids.
 */
import { v7 } from 'uuid';

/** A new time-ordered UUID (RFC 9562 version 7; 74 random bits). */
export function newSessionId(): string {
  return v7();
}
