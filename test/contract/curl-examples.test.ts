/**
 * The page's two curl examples, taken from reference/moltbot-openai-http-api.md at test
 * time and run with the real /usr/bin/curl (no shell) against the real server. Only the
 * placeholder token and the port are substituted.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openapiDocument } from '../../generated/openapi-document.js';
import type { CreateChatCompletionResponse, CreateChatCompletionStreamResponse } from '../../generated/client/types.gen.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { schemaProblems } from '../helpers/schemas.js';
import { parseSse } from '../helpers/sse.js';
import { curlBody, pageCurlExamples, tokenizeShell } from './page-examples.js';

const run = promisify(execFile);
const CURL = '/usr/bin/curl';
const PAGE_ORIGIN = 'http://127.0.0.1:18789';

let gateway: TestGateway;
beforeAll(async () => {
  gateway = await startGateway();
});
afterAll(() => gateway?.close());

/** Replaces one placeholder in exactly one argument, failing when the page no longer has it there. */
function substitute(argv: string[], from: string, to: string): string[] {
  const hits = argv.filter((arg) => arg.includes(from));
  expect(hits, `exactly one argument contains ${from}`).toHaveLength(1);
  return argv.map((arg) => arg.split(from).join(to));
}

function forTestGateway(argv: string[]): string[] {
  return substitute(substitute(argv, 'YOUR_TOKEN', gateway.token), PAGE_ORIGIN, gateway.url).slice(1);
}

/** curl, with proxy settings from the environment removed so 127.0.0.1 is reached directly. */
async function curl(args: string[]): Promise<{ stdout: string; stderr: string }> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/_proxy$/iu.test(key)));
  // execFile rejects on a non-zero exit, with curl's stderr in the error.
  return run(CURL, args, { env, timeout: 20_000, maxBuffer: 1 << 20 });
}

const requestExamples = openapiDocument.paths['/v1/chat/completions'].post.requestBody.content['application/json'].examples;

describe("the page's curl examples", () => {
  const examples = pageCurlExamples();

  it('are the shape the tests expect, with the bodies the spec cites', () => {
    expect(examples.nonStreaming.slice(0, 3)).toEqual(['curl', '-sS', `${PAGE_ORIGIN}/v1/chat/completions`]);
    expect(examples.streaming.slice(0, 3)).toEqual(['curl', '-N', `${PAGE_ORIGIN}/v1/chat/completions`]);
    expect(curlBody(examples.nonStreaming)).toEqual(requestExamples.simple.value);
    expect(curlBody(examples.streaming)).toEqual(requestExamples.streaming.value);
  });

  it('non-streaming: prints a valid chat.completion', async () => {
    const { stdout, stderr } = await curl(forTestGateway(examples.nonStreaming));
    expect(stderr, '-sS: silent unless curl fails').toBe('');
    const body = JSON.parse(stdout) as CreateChatCompletionResponse;
    expect(schemaProblems('completion', body), stdout).toEqual([]);
    expect(body.model).toBe('moltbot');
    expect(body.choices[0]?.message.content).toBe('hi');
    expect(body.choices[0]?.finish_reason).toBe('stop');
  });

  it('streaming: prints a valid SSE stream ending in data: [DONE]', async () => {
    // Without -s, curl prints its progress meter on stderr; only stdout is the stream.
    const { stdout } = await curl(forTestGateway(examples.streaming));
    const { events, framingErrors } = parseSse(stdout);
    expect(framingErrors, stdout).toEqual([]);
    expect(stdout.endsWith('data: [DONE]\n\n')).toBe(true);
    expect(events.at(-1)).toBe('[DONE]');
    expect(events.indexOf('[DONE]')).toBe(events.length - 1);
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e) as CreateChatCompletionStreamResponse);
    expect(chunks.length).toBeGreaterThanOrEqual(2);
    for (const chunk of chunks) {
      expect(schemaProblems('chunk', chunk), JSON.stringify(chunk)).toEqual([]);
      expect(chunk.id).toBe(chunks[0]?.id);
      expect(chunk.created).toBe(chunks[0]?.created);
    }
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('hi');
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe('stop');
  });
});

describe('tokenizeShell', () => {
  it('joins continuations and keeps single-quoted text literal', () => {
    expect(tokenizeShell("curl -sS http://h/x \\\n  -H 'A: b' \\\n  -d '{\n \"k\": \"v\\\\n\"\n}'\n")).toEqual([
      'curl',
      '-sS',
      'http://h/x',
      '-H',
      'A: b',
      '-d',
      '{\n "k": "v\\\\n"\n}',
    ]);
  });

  it.each([
    ['a double quote', 'curl -d "x"'],
    ['a variable', 'curl $URL'],
    ['a backslash escape', 'curl a\\ b'],
    ['an unterminated quote', "curl 'abc"],
    ['a second command', 'curl a\ncurl b\n'],
    ['a pipe', 'curl a | jq'],
  ])('refuses %s', (_what, command) => {
    expect(() => tokenizeShell(command)).toThrow(/tokenizeShell/u);
  });
});
