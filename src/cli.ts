/**
 * `moltbot gateway` runs the gateway in the foreground; `moltbot agent` runs one agent
 * turn in-process through the same agent core the HTTP endpoint uses.
 * Exit codes: 0 success, 1 runtime failure, 2 bad usage or configuration.
 */
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { createRuntime } from './app.js';
import { ConfigError, assertStartable, readConfigFile, resolveConfigPath, resolveGatewayConfig, type GatewayFlags } from './config/load.js';
import type { AuthMode, GatewayConfig } from './config/types.js';
import { GatewayError } from './errors.js';
import { createServer } from './gateway/server.js';
import { createLogger } from './log.js';

const USAGE = `usage:
  moltbot gateway [--port N] [--bind loopback|lan|ADDRESS] [--config PATH]
                  [--auth token|password] [--token TOKEN] [--password PASSWORD]
  moltbot agent --message TEXT [--agent ID] [--session-key KEY] [--json] [--config PATH]`;

class UsageError extends Error {}

function loadConfig(configFlag: string | undefined, flags: GatewayFlags): GatewayConfig {
  const { path, explicit } = resolveConfigPath(configFlag, process.env);
  return resolveGatewayConfig(readConfigFile(path, explicit, process.env), flags, process.env);
}

async function runGateway(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      port: { type: 'string' },
      bind: { type: 'string' },
      config: { type: 'string' },
      auth: { type: 'string' },
      token: { type: 'string' },
      password: { type: 'string' },
    },
  });
  const flags: GatewayFlags = {};
  if (values.port !== undefined) {
    if (!/^\d+$/u.test(values.port) || Number(values.port) > 65535) throw new UsageError(`--port: '${values.port}' is not a port number`);
    flags.port = Number(values.port);
  }
  if (values.auth !== undefined) {
    if (values.auth !== 'token' && values.auth !== 'password') throw new UsageError(`--auth must be 'token' or 'password'`);
    flags.auth = values.auth as AuthMode;
  }
  if (values.bind !== undefined) flags.bind = values.bind;
  if (values.token !== undefined) flags.token = values.token;
  if (values.password !== undefined) flags.password = values.password;

  const config = loadConfig(values.config, flags);
  assertStartable(config);
  const logger = createLogger();
  const runtime = createRuntime(config);
  const app = await createServer(config, { core: runtime.core, logger });
  const server = app.listen(config.gateway.port, config.gateway.host);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    server.close(() => {
      void runtime.close().then(() => process.exit(0));
    });
    // In-flight runs are aborted; graceful draining is a later step.
    server.closeAllConnections();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  // Printed last: whoever waits for this line may signal us right away.
  const { address, port } = server.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;
  process.stdout.write(`listening on http://${host}:${port}\n`);
}

async function runAgent(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      agent: { type: 'string' },
      message: { type: 'string' },
      'session-key': { type: 'string' },
      json: { type: 'boolean', default: false },
      config: { type: 'string' },
    },
  });
  if (values.message === undefined) throw new UsageError('--message is required');
  const config = loadConfig(values.config, {});
  const runtime = createRuntime(config);
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort());
  try {
    const turn = runtime.core.startTurn(
      {
        agentId: values.agent,
        model: 'moltbot',
        sessionKey: values['session-key'],
        messages: [{ role: 'user', content: values.message }],
      },
      controller.signal,
      { agentId: '--agent', sessionKey: '--session-key' },
    );
    let reply = '';
    for await (const event of turn.events) {
      if (event.type === 'delta') {
        reply += event.text;
        if (!values.json) process.stdout.write(event.text);
        continue;
      }
      if (values.json) {
        const transcript = await runtime.store.loadTurns(turn.sessionKey);
        process.stdout.write(
          `${JSON.stringify({ agentId: turn.agentId, sessionKey: turn.sessionKey, reply, finishReason: event.finishReason, usage: event.usage ?? null, transcript }, null, 2)}\n`,
        );
      } else {
        process.stdout.write('\n');
      }
    }
  } finally {
    await runtime.close();
  }
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === 'gateway') return runGateway(rest);
  if (command === 'agent') return runAgent(rest);
  if (command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  throw new UsageError(command ? `unknown command '${command}'` : 'a command is required');
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof ConfigError) {
    process.stderr.write(`moltbot: ${err.message}\n`);
    process.exit(err.exitCode);
  }
  if (err instanceof UsageError || (err as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) {
    process.stderr.write(`moltbot: ${(err as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
  if (err instanceof GatewayError) {
    process.stderr.write(`moltbot: ${err.message}\n`);
    process.exit(err.status < 500 ? 2 : 1);
  }
  const code = (err as NodeJS.ErrnoException).code;
  process.stderr.write(`moltbot: ${code === 'EADDRINUSE' || code === 'EACCES' ? (err as Error).message : `unexpected failure: ${(err as Error).message}`}\n`);
  process.exit(1);
});
