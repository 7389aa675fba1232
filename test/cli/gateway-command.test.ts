import { afterEach, describe, expect, it } from 'vitest';
import { cleanEnv, runCli, startCliGateway, writeConfig, type RunningGateway } from '../helpers/cli.js';
import { readCompletion } from '../helpers/read.js';

const ENABLED = `{
  // JSON5, as users write it
  gateway: { http: { endpoints: { chatCompletions: { enabled: true } } } },
  agents: { list: [{ id: "main" }] },
}`;

describe('moltbot gateway', () => {
  let running: RunningGateway | undefined;
  afterEach(() => {
    running?.child.kill('SIGKILL');
    running = undefined;
  });

  it('prints one listening line, serves /healthz without auth and chat with the token, exits 0 on SIGTERM', async () => {
    running = await startCliGateway(['--port', '0', '--config', writeConfig(ENABLED)], cleanEnv({ CLAWDBOT_GATEWAY_TOKEN: 'cli-token-1' }));
    expect(running.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/u);
    const health = await fetch(`${running.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    const chat = await fetch(`${running.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: 'Bearer cli-token-1', 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'moltbot', messages: [{ role: 'user', content: 'from the cli' }] }),
    });
    expect((await readCompletion(chat)).choices[0]?.message.content).toBe('from the cli');
    running.child.kill('SIGTERM');
    const result = await running.done;
    expect(result.code).toBe(0);
    expect(result.stdout.trim().split('\n')).toEqual([`listening on ${running.url}`]);
  });

  it('exits 0 on SIGINT', async () => {
    running = await startCliGateway(['--port', '0', '--token', 'flag-token'], cleanEnv());
    running.child.kill('SIGINT');
    expect((await running.done).code).toBe(0);
  });

  it('takes --token and --password/--auth from flags over the environment', async () => {
    running = await startCliGateway(
      ['--port', '0', '--config', writeConfig(ENABLED), '--auth', 'password', '--password', 'flag-pass'],
      cleanEnv({ CLAWDBOT_GATEWAY_PASSWORD: 'env-pass' }),
    );
    const ask = (secret: string): Promise<Response> =>
      fetch(`${running!.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'moltbot', messages: [{ role: 'user', content: 'x' }] }),
      });
    expect((await ask('env-pass')).status).toBe(401);
    expect((await ask('flag-pass')).status).toBe(200);
  });

  it('refuses to start without a secret: exit 2, says how to fix it, never listens', async () => {
    const result = await runCli(['gateway', '--port', '0'], cleanEnv());
    expect(result.code).toBe(2);
    expect(result.stdout).not.toMatch(/listening/u);
    expect(result.stderr).toMatch(/CLAWDBOT_GATEWAY_TOKEN/u);
    expect(result.stderr).toMatch(/--token/u);
  });

  it('refuses password mode without a password, naming CLAWDBOT_GATEWAY_PASSWORD', async () => {
    const result = await runCli(['gateway', '--port', '0', '--auth', 'password', '--token', 'some-token'], cleanEnv());
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/CLAWDBOT_GATEWAY_PASSWORD/u);
  });

  it('refuses a non-loopback bind without a secret', async () => {
    const result = await runCli(['gateway', '--port', '0', '--bind', 'lan'], cleanEnv());
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/refusing to start on 0\.0\.0\.0/u);
  });

  it('stops on an unknown config key with its path (exit 2, no partial start)', async () => {
    const config = writeConfig('{ gateway: { htp: {} } }');
    const result = await runCli(['gateway', '--port', '0', '--config', config, '--token', 't'], cleanEnv());
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/gateway\.htp: unknown key/u);
  });

  it('stops on a wrong type with the path and the reason', async () => {
    const config = writeConfig('{ gateway: { http: { endpoints: { chatCompletions: { enabled: "yes" } } } } }');
    const result = await runCli(['gateway', '--port', '0', '--config', config, '--token', 't'], cleanEnv());
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/gateway\.http\.endpoints\.chatCompletions\.enabled: must be boolean/u);
  });

  it('stops when --config names a missing file, and on a bad flag', async () => {
    const missing = await runCli(['gateway', '--config', '/nonexistent/moltbot.json', '--token', 't'], cleanEnv());
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/\/nonexistent\/moltbot\.json/u);
    const badFlag = await runCli(['gateway', '--prot', '1'], cleanEnv());
    expect(badFlag.code).toBe(2);
    expect(badFlag.stderr).toMatch(/--prot/u);
  });

  it('--log-format json writes JSON lines to stderr (a pipe: JSON is also the default); --log-level warn drops the info lines', async () => {
    const env = cleanEnv({ CLAWDBOT_GATEWAY_TOKEN: 'cli-token-2' });
    const chat = (url: string): Promise<Response> =>
      fetch(`${url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: 'Bearer cli-token-2', 'content-type': 'application/json', 'x-request-id': 'cli-log-1' },
        body: JSON.stringify({ model: 'moltbot', messages: [{ role: 'user', content: 'log me' }] }),
      });
    for (const [flags, expectInfo] of [[['--log-format', 'json'], true], [['--log-level', 'warn'], false]] as const) {
      running = await startCliGateway(['--port', '0', '--config', writeConfig(ENABLED), ...flags], env);
      await readCompletion(await chat(running.url));
      running.child.kill('SIGTERM');
      const { code, stderr } = await running.done;
      expect(code).toBe(0);
      const lines = stderr.trim().split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as Record<string, unknown>);
      const request = lines.find((line) => line.message === 'request' && line.requestId === 'cli-log-1');
      if (expectInfo) expect(request).toMatchObject({ level: 'info', status: 200, agent: 'main', route: '/v1/chat/completions' });
      else expect(lines.filter((line) => line.level === 'info')).toEqual([]);
      expect(stderr).not.toContain('cli-token-2');
      running = undefined;
    }
  });

  it('refuses an unknown --log-format or --log-level (exit 2)', async () => {
    const format = await runCli(['gateway', '--token', 't', '--log-format', 'xml'], cleanEnv());
    expect(format.code).toBe(2);
    expect(format.stderr).toContain("--log-format must be 'json' or 'pretty'");
    const level = await runCli(['gateway', '--token', 't', '--log-level', 'loud'], cleanEnv());
    expect(level.code).toBe(2);
    expect(level.stderr).toContain('--log-level must be one of');
  });

  it('reads the config from MOLTBOT_CONFIG_PATH and the port from CLAWDBOT_GATEWAY_PORT', async () => {
    const port = String(20000 + Math.floor(Math.random() * 20000));
    running = await startCliGateway([], cleanEnv({ MOLTBOT_CONFIG_PATH: writeConfig(ENABLED), CLAWDBOT_GATEWAY_PORT: port, CLAWDBOT_GATEWAY_TOKEN: 't' }));
    expect(running.url).toBe(`http://127.0.0.1:${port}`);
  });
});
