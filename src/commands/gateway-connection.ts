/**
 * How the CLI reaches a running gateway: its WebSocket protocol on the configured port
 * (on loopback when it listens on every address), authenticated with the configured
 * token or password and this machine's device identity (`<stateDir>/identity/device.json`),
 * as the reference CLI connects. `undefined` means no gateway listens there.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { loadOrCreateDeviceIdentity } from '../client/device-identity.js';
import { GatewayClient, GatewayClosedError, GatewayRequestError } from '../client/gateway-client.js';
import type { GatewayConfig } from '../config/types.js';
import { GatewayCommandError } from './shared.js';

/** The CLI's scopes, as the reference CLI asks for them. */
const CLI_SCOPES = ['operator.admin', 'operator.approvals', 'operator.pairing'];

/** The gateway's WebSocket URL from config (or `--url`). */
export function gatewayUrl(config: GatewayConfig, url: string | undefined): string {
  if (url) return url;
  const host = config.gateway.host === '0.0.0.0' || config.gateway.host === '::' ? '127.0.0.1' : config.gateway.host;
  return `ws://${host.includes(':') ? `[${host}]` : host}:${config.gateway.port}/`;
}

/** Connects and completes the handshake; undefined when nothing listens at the URL. */
export async function connectToGateway(config: GatewayConfig, url: string): Promise<GatewayClient | undefined> {
  const { mode, secret } = config.gateway.auth;
  const client = new GatewayClient({
    url,
    ...(mode === 'token' ? { token: secret } : { password: secret }),
    // Made only when a gateway answers; without one (a read-only state dir) the token alone authenticates.
    deviceIdentity: () => {
      try {
        return loadOrCreateDeviceIdentity(join(config.stateDir, 'identity', 'device.json'));
      } catch {
        return undefined;
      }
    },
    clientName: 'cli',
    mode: 'cli',
    scopes: CLI_SCOPES,
    instanceId: randomUUID(),
  });
  try {
    await client.connected();
    return client;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ECONNREFUSED') return undefined;
    throw describeFailure(err, url);
  }
}

/** A gateway failure in the CLI's words. */
export function describeFailure(err: unknown, url: string): GatewayCommandError {
  if (err instanceof GatewayRequestError) return new GatewayCommandError(`the gateway at ${url} refused: ${err.message}`, err.error?.code === 'INVALID_REQUEST' ? 2 : 1);
  if (err instanceof GatewayClosedError) return new GatewayCommandError(`the gateway at ${url} closed the connection (${err.code}${err.reason ? `: ${err.reason}` : ''})`, 1);
  return new GatewayCommandError(`cannot reach the gateway at ${url}: ${(err as Error).message}`, 1);
}
