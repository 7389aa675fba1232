/**
 * The `moltbot` command: `gateway` runs the gateway, `agent` runs one turn (through the
 * running gateway, else in-process), `status` asks the running gateway for its health,
 * `sessions` reads the session store and prunes it.
 * Exit codes: 0 success, 1 runtime failure, 2 bad usage or configuration.
 */
import { agentCommand } from './commands/agent-command.js';
import { gatewayCommand } from './commands/gateway-command.js';
import { GatewayCommandError } from './commands/gateway-connection.js';
import { sessionsCommand } from './commands/sessions-command.js';
import { statusCommand } from './commands/status-command.js';
import { UsageError, print } from './commands/shared.js';
import { ConfigError } from './config/load.js';
import { GatewayError } from './domain/errors.js';
import { StoreOpenError } from './sessions/store-files.js';

const USAGE = `usage:
  moltbot gateway [--port N] [--bind loopback|lan|ADDRESS] [--config PATH]
                  [--auth token|password] [--token TOKEN] [--password PASSWORD]
  moltbot agent --message TEXT [--agent ID] [--session-key KEY] [--local | --url WS_URL] [--json] [--config PATH]
  moltbot status [--url WS_URL] [--json] [--config PATH]
  moltbot sessions list [--agent ID] [--json] [--config PATH]
  moltbot sessions show KEY [--agent ID] [--json] [--config PATH]
  moltbot sessions prune --older-than DURATION [--kind stateless|user|explicit] [--agent ID]
                         [--dry-run] [--json] [--config PATH]
  moltbot sessions migrate [--dry-run] [--config PATH]`;

const COMMANDS: Record<string, (argv: string[]) => Promise<void>> = {
  gateway: gatewayCommand,
  agent: agentCommand,
  sessions: sessionsCommand,
  status: statusCommand,
};

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === '--help' || command === '-h' || command === 'help') {
    print(USAGE);
    return;
  }
  const run = command === undefined ? undefined : COMMANDS[command];
  if (!run) throw new UsageError(command ? `unknown command '${command}'` : 'a command is required');
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
