/** What the `moltbot` commands share: usage errors and loading the config. */
import { readConfigFile, resolveConfigPath, resolveGatewayConfig, type GatewayFlags } from '../config/load.js';
import type { GatewayConfig } from '../config/types.js';

/** Bad command-line usage: printed with the usage text, exit code 2. */
export class UsageError extends Error {}

/**
 * A failure talking to a running gateway (`agent --url`, `status`); exit code 2 when the
 * request itself was refused as invalid. Here, not beside the WebSocket client, so the
 * CLI can name it without loading `ws` for every command.
 */
export class GatewayCommandError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
    this.name = 'GatewayCommandError';
  }
}

/** The config from `--config` (or the environment, or the default path), merged with flags and env. */
export function loadConfig(configFlag: string | undefined, flags: GatewayFlags = {}): GatewayConfig {
  const { path, explicit } = resolveConfigPath(configFlag, process.env);
  return resolveGatewayConfig(readConfigFile(path, explicit, process.env), flags, process.env);
}

/** Writes a line to stdout. */
export function print(text: string): void {
  process.stdout.write(`${text}\n`);
}
