/**
 * `moltbot agent --local` beside a running gateway, on one session key, at the same time:
 * neither loses its turn (no `database is locked`), and the later turn is built on the
 * earlier one (its model request contains it), because turns of one session are
 * serialised across processes through the store. Real processes: a gateway and the CLI.
 */
import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BIN, finished, startCliGateway, type RunningGateway } from '../helpers/cli.js';
import { startFakeUpstream, type FakeUpstream, type RecordedRequest } from '../helpers/fake-upstream.js';
import { assistant, chat, processEnv, showSession, upstreamConfig, user, waitForLine, within } from '../helpers/process-gateway.js';
import { readCompletion, readStream, streamedText } from '../helpers/read.js';

const ROUNDS = 10;
const KEY = 'agent:main:shared-desk';
const WAITING = /^moltbot: waiting for a turn of this session that another process \(a gateway\?\) is running$/u;

let upstream: FakeUpstream;
let gateway: RunningGateway | undefined;
let env: Record<string, string>;
let config: string;

/** The content of a request's last message. */
const lastContent = (request: RecordedRequest): string => String((request.body.messages as { content: unknown }[]).at(-1)?.content);

beforeEach(async () => {
  upstream = await startFakeUpstream();
  // Turns sent as "<who> turn <n>" get "<who> answer <n>"; those listed in `slow` are held until release().
  upstream.behaveWith((body) => {
    const content = String((body.messages as { content: unknown }[]).at(-1)?.content);
    const answer = content.replace(' turn ', ' answer ');
    return slow.has(content) ? { kind: 'hold', deltas: [answer] } : { kind: 'reply', deltas: [answer] };
  });
  ({ env } = processEnv());
  config = upstreamConfig(upstream.baseUrl);
  gateway = await startCliGateway(['--port', '0', '--config', config], env);
});
const slow = new Set<string>();
afterEach(async () => {
  slow.clear();
  gateway?.child.kill('SIGKILL');
  gateway = undefined;
  await upstream.close();
});

/** Starts `moltbot agent --local` on KEY; `done` has its exit, `stderr` its error stream. */
function cliTurn(content: string): { done: ReturnType<typeof finished>; stderr: Readable } {
  const child = spawn(process.execPath, [BIN, 'agent', '--local', '--session-key', KEY, '--message', content, '--json', '--config', config], { env, timeout: 60_000 });
  return { done: finished(child), stderr: child.stderr };
}

describe('moltbot agent --local and a gateway turn on one session at the same time', () => {
  it(`a slow gateway turn, then a CLI turn while it runs: both succeed and the CLI's model request contains the gateway's turn (${ROUNDS} rounds)`, async () => {
    const url = gateway?.url ?? '';
    const history: { role: string; content: string }[] = [];
    for (let round = 1; round <= ROUNDS; round += 1) {
      // JSON turns (the model is called before the start is committed) and streamed ones, alternately.
      const stream = round % 2 === 0;
      slow.add(`gateway turn ${round}`);
      const gatewayTurn = chat(url, { model: 'moltbot', messages: [user(`gateway turn ${round}`)], ...(stream ? { stream: true } : {}) }, { 'x-moltbot-session-key': KEY });
      await upstream.requestWhere((request) => lastContent(request) === `gateway turn ${round}`);

      // The CLI starts while the gateway's turn is held at the model, and says it waits for it.
      const cli = cliTurn(`cli turn ${round}`);
      await within(waitForLine(cli.stderr, WAITING), 20_000, `round ${round}: the CLI waiting for the gateway's turn`);
      upstream.release();

      const response = await gatewayTurn;
      const gatewayReply = stream ? streamedText(await readStream(response)) : (await readCompletion(response)).choices[0]?.message.content;
      expect(gatewayReply, `round ${round}`).toBe(`gateway answer ${round}`);
      const result = await within(cli.done, 30_000, `round ${round}: the CLI finishing`);
      expect(result.code, `round ${round}: ${result.stderr}`).toBe(0);
      expect(result.stderr).not.toMatch(/locked|error/iu);
      expect(JSON.parse(result.stdout)).toMatchObject({ sessionKey: KEY, reply: `cli answer ${round}`, finishReason: 'stop' });

      // The CLI's model request that was answered came after the gateway's turn and carries it.
      history.push(user(`gateway turn ${round}`), assistant(`gateway answer ${round}`));
      const answered = upstream.requests.filter((request) => lastContent(request) === `cli turn ${round}` && request.closedAt === undefined);
      expect(answered.at(-1)?.body.messages, `round ${round}`).toEqual([...history, user(`cli turn ${round}`)]);
      history.push(user(`cli turn ${round}`), assistant(`cli answer ${round}`));
    }
    const [session] = await showSession(KEY, env, config);
    expect(session?.turns.map((t) => [t.seq, t.status, t.input[0]?.content, t.reply?.content])).toEqual(
      Array.from({ length: ROUNDS }, (_, i) => [
        [2 * i + 1, 'ok', `gateway turn ${i + 1}`, `gateway answer ${i + 1}`],
        [2 * i + 2, 'ok', `cli turn ${i + 1}`, `cli answer ${i + 1}`],
      ]).flat(),
    );
  });

  it("a slow CLI turn, then a JSON gateway turn while it runs: the gateway waits (and logs it), then builds on the CLI's turn; no stale reply", async () => {
    const url = gateway?.url ?? '';
    const running = gateway as RunningGateway;
    // Answers say how many messages they were built on, so a reply made on stale history would show.
    upstream.behaveWith((body) => {
      const messages = body.messages as { content: unknown }[];
      const content = String(messages.at(-1)?.content);
      const answer = `${content.replace(' turn ', ' answer ')} on ${messages.length - 1}`;
      return slow.has(content) ? { kind: 'hold', deltas: [answer] } : { kind: 'reply', deltas: [answer] };
    });
    slow.add('cli turn 1');
    const cli = cliTurn('cli turn 1');
    await upstream.requestWhere((request) => lastContent(request) === 'cli turn 1');
    const waited = waitForLine(running.child.stderr, /a turn waits for a turn of its session running in another process/u);
    const gatewayTurn = chat(url, { model: 'moltbot', messages: [user('gateway turn 1')] }, { 'x-moltbot-session-key': KEY });
    const logged = JSON.parse(await within(waited, 20_000, 'the gateway logging that its turn waits')) as Record<string, unknown>;
    expect(logged).toMatchObject({ level: 'info', agentId: 'main' });
    upstream.release();

    expect((await within(cli.done, 30_000, 'the CLI finishing')).code).toBe(0);
    expect((await readCompletion(await gatewayTurn)).choices[0]?.message.content).toBe('gateway answer 1 on 2');
    const answered = upstream.requests.filter((request) => lastContent(request) === 'gateway turn 1' && request.closedAt === undefined);
    expect(answered.at(-1)?.body.messages).toEqual([user('cli turn 1'), assistant('cli answer 1 on 0'), user('gateway turn 1')]);
    const [session] = await showSession(KEY, env, config);
    expect(session?.turns.map((t) => [t.seq, t.status, t.reply?.content])).toEqual([
      [1, 'ok', 'cli answer 1 on 0'],
      [2, 'ok', 'gateway answer 1 on 2'],
    ]);
  });
});
