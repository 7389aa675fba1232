/**
 * `moltbot agent`: one agent turn in-process, through the same core as the HTTP endpoint.
 * It may run beside a gateway on the same store: turns of one session are serialised
 * through the store, so it waits for the gateway's turn in the session (saying so on
 * stderr) and builds on it. `--local` asks for this in-process run explicitly; it is the
 * only mode for now (running through a live gateway comes later, `--local` will keep this).
 */
import { parseArgs } from 'node:util';
import { createRuntime } from '../app.js';
import { GatewayError, type TurnField } from '../domain/errors.js';
import { UsageError, loadConfig, print } from './shared.js';

/** The turn inputs this command takes, as its flags. */
const FLAGS: Partial<Record<TurnField, string>> = { agentId: '--agent', sessionKey: '--session-key' };

/** A refusal naming one of the turn's inputs, named by its flag. */
function named(err: unknown): unknown {
  const flag = err instanceof GatewayError && err.field !== undefined ? FLAGS[err.field] : undefined;
  return flag === undefined ? err : (err as GatewayError).named(flag);
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
      config: { type: 'string' },
    },
  });
  if (values.message === undefined) throw new UsageError('--message is required');
  const runtime = await createRuntime(loadConfig(values.config), {
    onSessionWait: () => process.stderr.write('moltbot: waiting for a turn of this session that another process (a gateway?) is running\n'),
  });
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort());
  try {
    let turn;
    try {
      turn = runtime.core.startTurn({ agentId: values.agent, sessionKey: values['session-key'], input: [{ role: 'user', content: values.message }] }, controller.signal);
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
