/**
 * SIGKILL in the middle of heavy concurrent load: 40 clients on 40 `user` sessions run
 * turns back to back (JSON and streaming mixed) against a gateway process whose upstream
 * streams every reply in paced parts. Once enough turns are acknowledged and many streams
 * are open, the process is killed. The store must open cleanly, a new process must start
 * on it, every acknowledged turn must be there, `ok`, with the very reply the client saw,
 * and every turn cut by the kill must be `interrupted` (or absent if it had not begun) —
 * no turn half-written.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startCliGateway, type RunningGateway } from '../helpers/cli.js';
import { loadConfig, readStore } from '../helpers/load.js';
import { openStream } from '../helpers/open-stream.js';
import { replyFor, startPacedUpstream, type PacedUpstream } from '../helpers/paced-upstream.js';
import { chat, processEnv, within } from '../helpers/process-gateway.js';
import { readCompletion, readStream, streamedText } from '../helpers/read.js';

const CLIENTS = 40;
/** Kill once this many turns are acknowledged… */
const ACKED_BEFORE_KILL = 150;
/** …and at least this many streams are open (first bytes received, no [DONE] yet). */
const OPEN_STREAMS_AT_KILL = 15;

let upstream: PacedUpstream | undefined;
const children: RunningGateway[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) child.child.kill('SIGKILL');
  await upstream?.close();
});

const keyOf = (client: number): string => `agent:main:openai-user:load-${client}`;

interface ClientLog {
  /** Contents of the turns sent, in order. */
  sent: string[];
  /** Acknowledged turns: content → the reply text the client received. */
  acked: Map<string, string>;
}

describe('SIGKILL under heavy concurrent load', () => {
  it('keeps every acknowledged turn whole and ok; cut turns are interrupted, none half-written', { timeout: 60_000 }, async () => {
    const started = performance.now();
    upstream = await startPacedUpstream({ deltas: 6, delayMs: 2 });
    const { env, stateDir } = processEnv();
    const config = loadConfig(upstream.baseUrl, { maxConcurrent: 64 });
    const first = await startCliGateway(['--port', '0', '--config', config], env);
    children.push(first);

    const logs: ClientLog[] = Array.from({ length: CLIENTS }, () => ({ sent: [], acked: new Map() }));
    let acked = 0;
    let openStreams = 0;
    let stopping = false;
    let signalKill!: () => void;
    const killNow = new Promise<void>((resolve) => {
      signalKill = resolve;
    });
    const check = (): void => {
      if (!stopping && acked >= ACKED_BEFORE_KILL && openStreams >= OPEN_STREAMS_AT_KILL) {
        stopping = true;
        signalKill();
      }
    };

    /** One turn; resolves true when acknowledged, false when cut by the kill. */
    async function turn(client: number, t: number): Promise<boolean> {
      const content = `c${client}-t${t}`;
      const streaming = (client + t) % 2 === 0;
      logs[client]?.sent.push(content);
      let response: Response;
      try {
        response = await chat(first.url, { model: 'moltbot', user: `load-${client}`, messages: [{ role: 'user', content }], ...(streaming ? { stream: true } : {}) });
      } catch {
        return false;
      }
      let text: string;
      if (streaming) {
        const stream = openStream(response);
        let counted = false;
        // Open once the first chunk has arrived.
        void stream.waitFor((raw) => raw.includes('\n\n')).then(
          () => {
            if (stream.raw.includes('data: [DONE]')) return;
            counted = true;
            openStreams += 1;
            check();
          },
          () => undefined,
        );
        const end = await stream.ended;
        if (counted) openStreams -= 1;
        if (!end.raw.endsWith('data: [DONE]\n\n')) return false;
        const read = await readStream(new Response(end.raw, { status: response.status, headers: response.headers }));
        expect(read.error, end.raw).toBeUndefined();
        text = streamedText(read);
      } else {
        let body: string;
        try {
          body = await response.text();
        } catch {
          return false;
        }
        text = (await readCompletion(new Response(body, { status: response.status, headers: response.headers }))).choices[0]?.message.content ?? '';
      }
      expect(text).toBe(replyFor(content));
      logs[client]?.acked.set(content, text);
      acked += 1;
      check();
      return true;
    }

    async function client(i: number): Promise<void> {
      for (let t = 0; !stopping; t += 1) {
        if (!(await turn(i, t))) return;
      }
    }

    const clients = Promise.all(Array.from({ length: CLIENTS }, (_, i) => client(i)));
    const clientsStopped = clients.then(() => Promise.reject(new Error('every client stopped before the kill')));
    await within(Promise.race([killNow, clientsStopped]), 20_000, `${ACKED_BEFORE_KILL} acknowledged turns with ${OPEN_STREAMS_AT_KILL} streams open`);
    clientsStopped.catch(() => undefined);
    const openAtKill = openStreams;
    const ackedAtKill = acked;
    first.child.kill('SIGKILL');
    const killed = await within(first.done, 10_000, 'the killed gateway exiting');
    expect(killed.signal).toBe('SIGKILL');
    await within(clients, 10_000, 'the clients noticing the kill');
    // Turns acknowledged while the kill was on its way still count.
    const ackedTotal = logs.reduce((n, log) => n + log.acked.size, 0);
    expect(ackedTotal).toBe(acked);
    expect(ackedTotal).toBeGreaterThanOrEqual(ackedAtKill);

    // The store opens cleanly, read-only, straight after the crash.
    const dbPath = join(stateDir, 'sessions.sqlite');
    const crashed = readStore(dbPath);
    expect(crashed.integrity).toBe('ok');
    const runningAtCrash = [...crashed.turns.values()].flat().filter((t) => t.status === 'running').length;

    // A new process starts on the same state dir and serves.
    const second = await startCliGateway(['--port', '0', '--config', config], env);
    children.push(second);
    const after = await chat(second.url, { model: 'moltbot', user: 'after-restart', messages: [{ role: 'user', content: 'after' }] });
    expect((await readCompletion(after)).choices[0]?.message.content).toBe(replyFor('after'));

    const view = readStore(dbPath);
    expect(view.integrity).toBe('ok');
    let stored = 0;
    let interrupted = 0;
    let okUnacknowledged = 0;
    for (const [i, log] of logs.entries()) {
      const key = keyOf(i);
      const turns = view.turns.get(key) ?? [];
      stored += turns.length;
      // Every turn sent is there in order, except possibly the last one (cut before it began).
      expect(turns.length, key).toBeGreaterThanOrEqual(log.sent.length - 1);
      expect(turns.length, key).toBeLessThanOrEqual(log.sent.length);
      expect(turns.map((t) => t.seq)).toEqual(turns.map((_, k) => k + 1));
      for (const [k, row] of turns.entries()) {
        const content = log.sent[k] as string;
        expect(row.input, key).toEqual([{ role: 'user', content }]);
        const seen = log.acked.get(content);
        if (seen !== undefined) {
          expect(row, `${key} #${row.seq} was acknowledged`).toMatchObject({ status: 'ok', reply: { role: 'assistant', content: seen }, finishReason: 'stop' });
        } else {
          // Only the turn in flight at the kill may be unacknowledged.
          expect(k, `${key}: an unacknowledged turn before the last`).toBe(log.sent.length - 1);
          expect(['ok', 'interrupted']).toContain(row.status);
        }
        if (row.status === 'ok') {
          // Whole: the upstream's full reply, a finish reason, an end time.
          expect(row.reply).toEqual({ role: 'assistant', content: replyFor(content) });
          expect(row.finishReason).toBe('stop');
          if (seen === undefined) okUnacknowledged += 1;
        } else {
          expect(row.status, `${key} #${row.seq}`).toBe('interrupted');
          expect(row.reply).toBeNull();
          expect(row.finishReason).toBeNull();
          interrupted += 1;
        }
        expect(row.endedAt).toBeTypeOf('number');
      }
      const session = view.sessions.find((s) => s.key === key);
      if (turns.length > 0) expect(session).toEqual({ key, turns: turns.length, lastStatus: turns.at(-1)?.status });
      else expect(session).toBeUndefined();
    }
    // Nothing is left running; the only turns besides the clients' are the one after the restart.
    const all = [...view.turns.values()].flat();
    expect(all.filter((t) => t.status === 'running')).toEqual([]);
    expect(all.length).toBe(stored + 1);
    expect(interrupted).toBe(runningAtCrash);
    expect(interrupted).toBeGreaterThan(0);

    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    console.log(
      `crash under load: ${ackedTotal} turns acknowledged (${ackedAtKill} when the kill was decided, ${openAtKill} streams open), ` +
        `${stored} turns in store, ${interrupted} interrupted, ${okUnacknowledged} ok but never acknowledged, ${seconds} s`,
    );
  });
});
