/**
 * A real OpenAI-compatible upstream on 127.0.0.1:0 that records every request it gets
 * and answers with a scripted reply (streamed when asked), or with a scripted failure.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown>;
}

export type UpstreamBehaviour =
  | { kind: 'reply'; deltas: string[]; usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number } | null; finishReason?: string }
  | { kind: 'status'; status: number; body: unknown };

export interface FakeUpstream {
  /** Base URL including `/v1`, as configured for a provider. */
  baseUrl: string;
  requests: RecordedRequest[];
  behave(next: UpstreamBehaviour): void;
  close(): Promise<void>;
}

export const DEFAULT_USAGE = { prompt_tokens: 11, completion_tokens: 3, total_tokens: 14 };

function streamReply(res: ServerResponse, behaviour: Extract<UpstreamBehaviour, { kind: 'reply' }>, model: string): void {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  const base = { id: 'chatcmpl-upstream', object: 'chat.completion.chunk', created: 1, model };
  const send = (payload: unknown): void => {
    res.write(`data: ${JSON.stringify(payload)}\n\n`);
  };
  send({ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] });
  for (const text of behaviour.deltas) send({ ...base, choices: [{ index: 0, delta: { content: text }, finish_reason: null }] });
  send({ ...base, choices: [{ index: 0, delta: {}, finish_reason: behaviour.finishReason ?? 'stop' }] });
  const usage = behaviour.usage === undefined ? DEFAULT_USAGE : behaviour.usage;
  if (usage) send({ ...base, choices: [], usage });
  res.end('data: [DONE]\n\n');
}

export async function startFakeUpstream(initial: UpstreamBehaviour = { kind: 'reply', deltas: ['Hello', ' from', ' upstream'] }): Promise<FakeUpstream> {
  let behaviour = initial;
  const requests: RecordedRequest[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const body = (text ? JSON.parse(text) : {}) as Record<string, unknown>;
      requests.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body });
      if (behaviour.kind === 'status') {
        res.writeHead(behaviour.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(behaviour.body));
        return;
      }
      if (body.stream === true) {
        streamReply(res, behaviour, String(body.model));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          id: 'chatcmpl-upstream',
          object: 'chat.completion',
          created: 1,
          model: body.model,
          choices: [{ index: 0, message: { role: 'assistant', content: behaviour.deltas.join('') }, finish_reason: behaviour.finishReason ?? 'stop' }],
          usage: behaviour.usage ?? DEFAULT_USAGE,
        }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    behave(next) {
      behaviour = next;
    },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
