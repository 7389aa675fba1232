/**
 * `moltbot agent`: one agent turn. When a gateway listens on the configured port (or
 * `--url`), the turn runs there, over its WebSocket protocol, as Moltbot's own CLI does:
 * the gateway serialises it with the HTTP turns of the same session. With `--local`, or
 * when no gateway listens, it runs in-process through the same core, on the same store
 * (turns of one session are then serialised through the store: it waits for a gateway's
 * turn in the session, saying so on stderr, and builds on it). A gateway that is there
 * but refuses or fails the turn is an error: the turn is never run a second time locally.
 * Session keys are the protocol's in both modes: `--session-key k` is `agent:<agent>:k`
 * unless it names its agent, and without one the turn joins `agent:<agent>:main`.
 */
import { parseArgs } from 'node:util';
import { canonicalSessionKey } from '../agents/routing.js';
import { createRuntime } from '../app.js';
import { agentNotFound, GatewayError, type TurnField } from '../domain/errors.js';
import { agentViaGateway } from './agent-via-gateway.js';
import { connectToGateway, gatewayUrl } from './gateway-connection.js';
import { UsageError, loadConfig, print } from './shared.js';

/** The turn inputs this command takes, as its flags. */
const FLAGS: Partial<Record<TurnField, string>> = { agentId: '--agent', sessionKey: '--session-key' };

/** A refusal naming one of the turn's inputs, named by its flag. */
function named(err: unknown): unknown {
  const flag = err instanceof GatewayError && err.field !== undefined ? FLAGS[err.field] : undefined;
  return flag === undefined ? err : (err as GatewayError).named(flag);
}

/** The session key as the protocol resolves it (see the file comment). */
function sessionKeyFor(agentId: string, raw: string | undefined): string {
  const trimmed = raw?.trim();
  if (!trimmed) return `agent:${agentId}:main`;
  const { key, namedAgent } = canonicalSessionKey(trimmed);
  return namedAgent === undefined ? `agent:${agentId}:${trimmed}` : key;
}

export async function agentCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      agent: { type: 'string' },
      message: { type: 'string' },
      'session-key': { type: 'string' },
      json: { type: 'boolean', default: false },
      local: { type: 'boolean', default: false },
      url: { type: 'string' },
      config: { type: 'string' },
    },
  });
  if (values.message === undefined) throw new UsageError('--message is required');
  if (values.local && values.url !== undefined) throw new UsageError('--local and --url exclude each other');
  const config = loadConfig(values.config);
  const agentId = (values.agent ?? config.defaultAgentId).toLowerCase();
  if (!config.agents.some((agent) => agent.id === agentId)) throw agentNotFound(agentId, 'agentId', values.agent ?? agentId).named('--agent');
  const sessionKey = sessionKeyFor(agentId, values['session-key']);
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort());

  if (!values.local) {
    const url = gatewayUrl(config, values.url);
    const client = await connectToGateway(config, url);
    if (client) {
      await agentViaGateway(client, url, { agentId, sessionKey, message: values.message, json: values.json }, controller.signal);
      return;
    }
    if (values.url !== undefined) throw new UsageError(`no gateway listens at ${values.url}`);
  }

  const runtime = await createRuntime(config, {
    onSessionWait: () => process.stderr.write('moltbot: waiting for a turn of this session that another process (a gateway?) is running\n'),
  });
  try {
    let turn;
    try {
      turn = runtime.core.startTurn({ agentId, sessionKey, input: [{ role: 'user', content: values.message }] }, controller.signal);
    } catch (err) {
      throw named(err);
    }
    let reply = '';
    for await (const event of turn.events) {
      if (event.type === 'delta') {
        reply += event.text;
        if (!values.json) process.stdout.write(event.text);
        continue;
      }
      // The CLI sends no tools, so a model has none to call.
      if (event.type === 'tool_call') continue;
      if (!values.json) {
        print('');
        continue;
      }
      const transcript = await runtime.store.loadTurns(turn.agentId, turn.sessionKey);
      print(JSON.stringify({ agentId: turn.agentId, sessionKey: turn.sessionKey, reply, finishReason: event.finishReason, usage: event.usage ?? null, transcript }, null, 2));
    }
  } finally {
    await runtime.close();
  }
}
