import { describe, expect, it } from 'vitest';
import type { Turn } from '../../src/sessions/store.js';
import { cleanEnv, runCli, writeConfig } from '../helpers/cli.js';
import { TEST_TOKEN, postChat, startGateway } from '../helpers/gateway.js';
import { readCompletion } from '../helpers/read.js';
import type { ConfigFile } from '../../src/config/types.js';

const FILE: ConfigFile = {
  gateway: { auth: { token: TEST_TOKEN }, http: { endpoints: { chatCompletions: { enabled: true } } } },
  agents: { list: [{ id: 'main', systemPrompt: 'Be brief.' }, { id: 'beta' }] },
};

/** A turn without its clock readings and transcript id, which differ between any two runs. */
const timeless = ({ startedAt: _s, endedAt: _e, sessionId: _i, ...rest }: Turn): Omit<Turn, 'startedAt' | 'endedAt' | 'sessionId'> => rest;

describe('moltbot agent', () => {
  it('runs one turn and prints the reply', async () => {
    const result = await runCli(['agent', '--agent', 'main', '--message', 'hello from the terminal', '--config', writeConfig(JSON.stringify(FILE))], cleanEnv());
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('hello from the terminal\n');
  });

  it('--json prints agent, session key, reply, usage and the transcript', async () => {
    const result = await runCli(
      ['agent', '--agent', 'BETA', '--message', 'two words', '--session-key', 'agent:beta:cli-1', '--json', '--config', writeConfig(JSON.stringify(FILE))],
      cleanEnv(),
    );
    expect(result.code).toBe(0);
    const out = JSON.parse(result.stdout) as { agentId: string; sessionKey: string; reply: string; finishReason: string; usage: unknown; transcript: Turn[] };
    expect(out).toMatchObject({ agentId: 'beta', sessionKey: 'agent:beta:cli-1', reply: 'two words', finishReason: 'stop' });
    expect(out.usage).toEqual({ promptTokens: 2, completionTokens: 2, totalTokens: 4 });
    expect(out.transcript).toHaveLength(1);
  });

  it('rejects an unknown agent (exit 2, model_not_found wording) and a missing --message', async () => {
    const unknown = await runCli(['agent', '--agent', 'ghost', '--message', 'x', '--config', writeConfig(JSON.stringify(FILE))], cleanEnv());
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/no agent with id 'ghost'/u);
    const noMessage = await runCli(['agent', '--agent', 'main'], cleanEnv());
    expect(noMessage.code).toBe(2);
    expect(noMessage.stderr).toMatch(/--message is required/u);
  });

  it('produces the same transcript as the HTTP endpoint for the same turn', async () => {
    const key = 'agent:main:parity';
    const cli = await runCli(
      ['agent', '--agent', 'main', '--message', 'same turn either way', '--session-key', key, '--json', '--config', writeConfig(JSON.stringify(FILE))],
      cleanEnv(),
    );
    expect(cli.code).toBe(0);
    const viaCli = (JSON.parse(cli.stdout) as { transcript: Turn[] }).transcript;

    const gateway = await startGateway(FILE);
    try {
      await readCompletion(
        await postChat(gateway, { model: 'moltbot', messages: [{ role: 'user', content: 'same turn either way' }] }, { 'x-moltbot-agent-id': 'main', 'x-moltbot-session-key': key }),
      );
      const viaHttp = await gateway.store.loadTurns('main', key);
      expect(viaHttp.map(timeless)).toEqual(viaCli.map(timeless));
      expect(viaHttp[0]).toMatchObject({ agentId: 'main', status: 'ok', input: [{ role: 'user', content: 'same turn either way' }] });
    } finally {
      await gateway.close();
    }
  });
});
