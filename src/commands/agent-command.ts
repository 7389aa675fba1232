/** `moltbot agent`: one agent turn in-process, through the same core as the HTTP endpoint. */
import { parseArgs } from 'node:util';
import { createRuntime } from '../app.js';
import { UsageError, loadConfig, print } from './shared.js';

export async function agentCommand(argv: string[]): Promise<void> {
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
  const runtime = await createRuntime(loadConfig(values.config));
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort());
  try {
    const turn = runtime.core.startTurn(
      { agentId: values.agent, model: 'moltbot', sessionKey: values['session-key'], messages: [{ role: 'user', content: values.message }] },
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
