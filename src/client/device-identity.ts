/**
 * A device identity for the WebSocket protocol's `connect`, as the reference client makes
 * one: an Ed25519 key pair, the device id (SHA-256 hex of the raw public key), and the
 * signed `device` block (`v2|deviceId|clientId|mode|role|scopes|signedAt|token|nonce`,
 * base64url). `loadOrCreateDeviceIdentity` keeps it in a 0600 file, as the reference does.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export interface DeviceIdentity {
  deviceId: string;
  publicKeyPem: string;
  privateKeyPem: string;
}

const toBase64Url = (bytes: Buffer): string => bytes.toString('base64').replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/u, '');

/** The raw 32-byte Ed25519 public key, base64url without padding. */
export function publicKeyRawBase64Url(publicKeyPem: string): string {
  const der = createPublicKey(publicKeyPem).export({ type: 'spki', format: 'der' });
  return toBase64Url(der.subarray(der.length - 32));
}

export function createDeviceIdentity(): DeviceIdentity {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const raw = publicKey.export({ type: 'spki', format: 'der' }).subarray(12);
  return { deviceId: createHash('sha256').update(raw).digest('hex'), publicKeyPem, privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

/** The identity in `path`, created (0600, directory 0700) when there is none. */
export function loadOrCreateDeviceIdentity(path: string): DeviceIdentity {
  try {
    const stored = JSON.parse(readFileSync(path, 'utf8')) as DeviceIdentity;
    if (stored.deviceId && stored.publicKeyPem && stored.privateKeyPem) return stored;
  } catch {
    // Missing or unreadable: make a new one.
  }
  const identity = createDeviceIdentity();
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, JSON.stringify({ version: 1, ...identity, createdAtMs: Date.now() }, null, 2), { mode: 0o600 });
  chmodSync(path, 0o600);
  return identity;
}

export interface DeviceSignInput {
  clientId: string;
  clientMode: string;
  role: string;
  scopes: readonly string[];
  token: string | undefined;
  nonce: string | undefined;
  signedAtMs: number;
}

/** The `device` block of a `connect` request. */
export function signDevice(identity: DeviceIdentity, input: DeviceSignInput): { id: string; publicKey: string; signature: string; signedAt: number; nonce?: string } {
  const fields = [input.nonce ? 'v2' : 'v1', identity.deviceId, input.clientId, input.clientMode, input.role, input.scopes.join(','), String(input.signedAtMs), input.token ?? ''];
  if (input.nonce) fields.push(input.nonce);
  const signature = toBase64Url(sign(null, Buffer.from(fields.join('|'), 'utf8'), createPrivateKey(identity.privateKeyPem)));
  return { id: identity.deviceId, publicKey: publicKeyRawBase64Url(identity.publicKeyPem), signature, signedAt: input.signedAtMs, ...(input.nonce ? { nonce: input.nonce } : {}) };
}
