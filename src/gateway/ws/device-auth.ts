/**
 * The `connect` request's `device` block, verified as the reference gateway does: an
 * Ed25519 public key (raw 32 bytes, base64url; or PEM), the device id that is the
 * SHA-256 hex of that raw key, a signature over
 * `v2|deviceId|clientId|mode|role|scopes|signedAt|token|nonce` (v1 without the nonce is
 * accepted from loopback only, as the reference does), `signedAt` within 10 minutes of
 * now, and the nonce of this connection's `connect.challenge`. There is no pairing and no
 * device token: a verified device proves only that its holder signed this connection.
 */
import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';

export interface DeviceBlock {
  id: string;
  publicKey: string;
  signature: string;
  signedAt: number;
  nonce?: string;
}

export interface SignedFields {
  clientId: string;
  clientMode: string;
  role: string;
  /** The requested scopes, in the order sent. */
  scopes: readonly string[];
  /** `auth.token` as sent ('' when none). */
  token: string;
}

/** Ed25519 SubjectPublicKeyInfo DER before the raw 32 key bytes. */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
export const MAX_SKEW_MS = 10 * 60_000;

const fromBase64Url = (value: string): Buffer => Buffer.from(value.replaceAll('-', '+').replaceAll('_', '/'), 'base64');

/** The raw 32-byte key and a KeyObject for it, or undefined if it is not an Ed25519 public key. */
function publicKeyOf(encoded: string): { raw: Buffer; key: KeyObject } | undefined {
  try {
    if (encoded.includes('BEGIN')) {
      const key = createPublicKey(encoded);
      const der = key.export({ type: 'spki', format: 'der' });
      if (der.length !== 44 || !der.subarray(0, 12).equals(ED25519_SPKI_PREFIX)) return undefined;
      return { raw: der.subarray(12), key };
    }
    const raw = fromBase64Url(encoded);
    if (raw.length !== 32) return undefined;
    return { raw, key: createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, raw]), format: 'der', type: 'spki' }) };
  } catch {
    return undefined;
  }
}

/** The signed payload string (v2 with a nonce, v1 without). */
export function devicePayload(deviceId: string, fields: SignedFields, signedAt: number, nonce: string | undefined): string {
  const base = [nonce === undefined ? 'v1' : 'v2', deviceId, fields.clientId, fields.clientMode, fields.role, fields.scopes.join(','), String(signedAt), fields.token];
  if (nonce !== undefined) base.push(nonce);
  return base.join('|');
}

/**
 * Undefined when the device block holds; else the reference's words for what is wrong
 * (`device identity mismatch`, `device signature expired`, `device nonce required`,
 * `device nonce mismatch`, `device signature invalid`, `device public key invalid`).
 */
export function deviceProblem(device: DeviceBlock, fields: SignedFields, challengeNonce: string, local: boolean, now: number): string | undefined {
  const key = publicKeyOf(device.publicKey);
  if (!key) return 'device public key invalid';
  if (createHash('sha256').update(key.raw).digest('hex') !== device.id) return 'device identity mismatch';
  if (Math.abs(now - device.signedAt) > MAX_SKEW_MS) return 'device signature expired';
  const nonce = device.nonce?.trim() ? device.nonce : undefined;
  if (nonce === undefined && !local) return 'device nonce required';
  if (nonce !== undefined && nonce !== challengeNonce) return 'device nonce mismatch';
  let signature: Buffer;
  try {
    signature = fromBase64Url(device.signature);
  } catch {
    return 'device signature invalid';
  }
  const payload = Buffer.from(devicePayload(device.id, fields, device.signedAt, nonce), 'utf8');
  try {
    if (!verify(null, payload, key.key, signature)) return 'device signature invalid';
  } catch {
    return 'device signature invalid';
  }
  return undefined;
}
