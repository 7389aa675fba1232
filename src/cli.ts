/**
 * The `moltbot` command: `gateway` runs the gateway, `agent` runs one turn (through the
 * running gateway, else in-process), `status` asks the running gateway for its health,
 * `sessions` reads the session store and prunes it.
 * Exit codes: 0 success, 1 runtime failure, 2 bad usage or configuration.
 */
import { GatewayCommandError, UsageError, print } from './commands/shared.js';
import { ConfigError } from './config/load.js';
import { GatewayError } from './domain/errors.js';
import { StoreOpenError } from './sessions/store-files.js';

const USAGE = `usage:
  moltbot gateway [--port N] [--bind loopback|lan|ADDRESS] [--config PATH]
                  [--auth token|password] [--token TOKEN] [--password PASSWORD]
                  [--log-format pretty|json] [--log-level trace|debug|info|warn|error|fatal|silent]
  moltbot agent --message TEXT [--agent ID] [--session-key KEY] [--local | --url WS_URL] [--json] [--config PATH]
  moltbot status [--url WS_URL] [--json] [--config PATH]
  moltbot sessions list [--limit N] [--cursor CURSOR] [--agent ID] [--json] [--config PATH]
  moltbot sessions show KEY [--agent ID] [--json] [--config PATH]
  moltbot sessions prune --older-than DURATION [--kind stateless|user|explicit] [--agent ID]
                         [--dry-run] [--json] [--config PATH]
  moltbot sessions migrate [--dry-run] [--config PATH]`;

/**
 * Each command's module, imported when it runs: the gateway's (pino, prom-client, the
 * HTTP edge) took ~0.1 s (0.8 s on a loaded machine) of every `moltbot agent` and
 * `moltbot sessions` start otherwise.
 */
const COMMANDS: Record<string, () => Promise<(argv: string[]) => Promise<void>>> = {
  gateway: async () => (await import('./commands/gateway-command.js')).gatewayCommand,
  agent: async () => (await import('./commands/agent-command.js')).agentCommand,
  sessions: async () => (await import('./commands/sessions-command.js')).sessionsCommand,
  status: async () => (await import('./commands/status-command.js')).statusCommand,
};

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === '--help' || command === '-h' || command === 'help') {
    print(USAGE);
    return;
  }
  const load = command === undefined ? undefined : COMMANDS[command];
  if (!load) throw new UsageError(command ? `unknown command '${command}'` : 'a command is required');
  const run = await load();
  await run(rest);
}

function fail(message: string, code: number): never {
  process.stderr.write(`moltbot: ${message}\n`);
  process.exit(code);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof ConfigError || err instanceof StoreOpenError || err instanceof GatewayCommandError) fail(err.message, err.exitCode);
  if (err instanceof UsageError || (err as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) fail(`${(err as Error).message}\n${USAGE}`, 2);
  if (err instanceof GatewayError) fail(err.message, err.status < 500 ? 2 : 1);
  const code = (err as NodeJS.ErrnoException).code;
  fail(code === 'EADDRINUSE' || code === 'EACCES' ? (err as Error).message : `unexpected failure: ${(err as Error).message}`, 1);
});
