/**
 * `moltbot status`: asks the running gateway for its `health` over the WebSocket protocol
 * and prints it (exit 1 when no gateway answers).
 */
import { parseArgs } from 'node:util';
import { connectToGateway, describeFailure, gatewayUrl } from './gateway-connection.js';
import { GatewayCommandError, loadConfig, print } from './shared.js';

interface Health {
  ok: boolean;
  durationMs: number;
  defaultAgentId: string;
  agents: { agentId: string; isDefault: boolean; sessions: { count: number; recent: { key: string; updatedAt: number }[] } }[];
  sessions: { count: number };
}

export async function statusCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, strict: true, options: { json: { type: 'boolean', default: false }, url: { type: 'string' }, config: { type: 'string' } } });
  const config = loadConfig(values.config);
  const url = gatewayUrl(config, values.url);
  const started = performance.now();
  const client = await connectToGateway(config, url);
  if (!client) throw new GatewayCommandError(`no gateway is running at ${url}`, 1);
  let health: Health;
  try {
    health = await client.request<Health>('health');
  } catch (err) {
    throw describeFailure(err, url);
  } finally {
    client.stop();
  }
  if (values.json) {
    print(JSON.stringify({ url, server: client.hello?.server, health }, null, 2));
    return;
  }
  print(`Gateway: ${health.ok ? 'ok' : 'not ok'} at ${url} (version ${client.hello?.server.version ?? '?'}, uptime ${Math.round((client.hello?.snapshot.uptimeMs ?? 0) / 1000)} s, ${Math.round(performance.now() - started)} ms)`);
  print(`Sessions: ${health.sessions.count}`);
  for (const agent of health.agents) print(`  ${agent.agentId}${agent.isDefault ? ' (default)' : ''}: ${agent.sessions.count} session(s)${agent.sessions.recent[0] ? `, latest ${agent.sessions.recent[0].key}` : ''}`);
}
