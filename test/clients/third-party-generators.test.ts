/**
 * Clients generated from openapi.yaml by generators the project does not use itself, as
 * their users run them: openapi-typescript 7 (types for openapi-fetch) and orval 7 (a
 * fetch client). Each generates into a temp dir without a warning, a typed program per
 * generator (test/clients/third-party/: create with a tool whose `parameters` is a real
 * JSON Schema, `response_format: json_schema`, the tool-call round trip, a stream, a typed
 * error) type-checks with the project's compiler options (orval's output with Bundler
 * resolution: it writes extensionless imports), and then runs against the real gateway,
 * whose agent `beta` sits on a fake OpenAI-compatible upstream that makes the tool call.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFeatureGateway, type FeatureSetup } from '../helpers/features.js';
import type { ProgramResult } from './third-party/shared.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));
const programs = fileURLToPath(new URL('./third-party/', import.meta.url));
const bin = (path: string): string => join(root, 'node_modules', path);

/** Output of a tool run: stdout and stderr together, and its exit code. */
async function tool(args: string[], cwd: string): Promise<{ output: string; code: number }> {
  const result = await run(process.execPath, args, { cwd, timeout: 120_000 }).catch((err: { stdout: string; stderr: string; code: number }) => err);
  return { output: `${result.stdout}${result.stderr}`, code: 'code' in result && typeof result.code === 'number' ? result.code : 0 };
}

/** What a generator may print: its banner and where it wrote, never a warning or an error. */
const TROUBLE = /warn|⚠|error|\(!\)|invalid|unsupported|failed/iu;

interface OpenapiFetchProgram {
  gatewayClient(baseUrl: string, token: string): unknown;
  toolRoundTrip(client: unknown, agentId: string): Promise<ProgramResult>;
  streamText(client: unknown, agentId: string): Promise<{ text: string; totalTokens: number | undefined }>;
  refusedCode(baseUrl: string): Promise<string | null>;
}
interface OrvalProgram {
  configureGateway(options: { baseUrl: string; token?: string }): void;
  toolRoundTrip(agentId: string): Promise<ProgramResult>;
  streamText(token: string, agentId: string): Promise<{ text: string; totalTokens: number | undefined }>;
}

let dir: string;
const generated: Record<'openapiTypescript' | 'orval', { output: string; code: number }> = {
  openapiTypescript: { output: '', code: -1 },
  orval: { output: '', code: -1 },
};
const typechecked: Record<'openapiFetch' | 'orval', { output: string; code: number }> = {
  openapiFetch: { output: '', code: -1 },
  orval: { output: '', code: -1 },
};
let setup: FeatureSetup;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'moltbot-clients-'));
  // The programs resolve openapi-fetch, eventsource-parser and @types/node from the project.
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
  for (const file of readdirSync(programs)) copyFileSync(join(programs, file), join(dir, file));
  // ES modules, as in the project.
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ private: true, type: 'module' }));
  const compilerOptions = { noEmit: true, rootDir: '.', types: ['node'] };
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ extends: join(root, 'tsconfig.json'), compilerOptions, include: [], files: ['openapi-fetch-program.ts'] }));
  writeFileSync(
    join(dir, 'tsconfig.orval.json'),
    JSON.stringify({ extends: join(root, 'tsconfig.json'), compilerOptions: { ...compilerOptions, module: 'ESNext', moduleResolution: 'Bundler' }, include: [], files: ['orval-program.ts'] }),
  );
  writeFileSync(
    join(dir, 'orval.config.ts'),
    `export default ${JSON.stringify({
      gateway: {
        input: { target: join(root, 'openapi.yaml') },
        output: {
          mode: 'split',
          target: './orval/gateway.ts',
          schemas: './orval/model',
          client: 'fetch',
          headers: true,
          clean: true,
          override: { mutator: { path: './orval-fetch.ts', name: 'customFetch' } },
        },
      },
    })};\n`,
  );
  // openapi-typescript reads the project's redocly.yaml (and its x-itemSchema plugin) from its working directory.
  [generated.openapiTypescript, generated.orval] = await Promise.all([
    tool([bin('openapi-typescript/bin/cli.js'), join(root, 'openapi.yaml'), '-o', join(dir, 'oats', 'gateway.ts')], root),
    tool([bin('orval/dist/bin/orval.js'), '--config', join(dir, 'orval.config.ts')], dir),
  ]);
  if (generated.openapiTypescript.code === 0 && generated.orval.code === 0) {
    [typechecked.openapiFetch, typechecked.orval] = await Promise.all([
      tool([bin('typescript/bin/tsc'), '-p', join(dir, 'tsconfig.json')], dir),
      tool([bin('typescript/bin/tsc'), '-p', join(dir, 'tsconfig.orval.json')], dir),
    ]);
  }
  setup = await startFeatureGateway();
  // The model calls get_weather once; answered, it replies.
  setup.upstream.behaveWith((body) => {
    const messages = body.messages as { role: string }[];
    if (body.tools && !messages.some((m) => m.role === 'tool')) {
      return { kind: 'tool_calls', calls: [{ id: 'call_weather_1', name: 'get_weather', arguments: '{"city":"Paris","unit":"celsius"}' }] };
    }
    return { kind: 'reply', deltas: ['It is', ' 21 degrees', ' in Paris.'] };
  });
}, 180_000);

afterAll(async () => {
  await setup?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const programFile = (name: string): string => pathToFileURL(join(dir, name)).href;

describe('openapi-typescript 7.13.0 + openapi-fetch 0.17.0', () => {
  it('generates the types without a warning', () => {
    expect(generated.openapiTypescript.code, generated.openapiTypescript.output).toBe(0);
    expect(generated.openapiTypescript.output).toMatch(/openapi-typescript 7\.13\.0/u);
    expect(generated.openapiTypescript.output).not.toMatch(TROUBLE);
  });

  it('a typed program (tools with JSON Schema parameters, json_schema response format, stream) type-checks', () => {
    expect(typechecked.openapiFetch.code, typechecked.openapiFetch.output).toBe(0);
    expect(typechecked.openapiFetch.output).toBe('');
  });

  it('runs against the real gateway: the tool-call round trip, the stream and a typed error', async () => {
    const program = (await import(programFile('openapi-fetch-program.ts'))) as OpenapiFetchProgram;
    const client = program.gatewayClient(setup.gateway.url, setup.gateway.token);
    const before = setup.upstream.requests.length;
    const result = await program.toolRoundTrip(client, 'beta');
    expect(result).toEqual({ reply: 'It is 21 degrees in Paris.', call: { name: 'get_weather', arguments: { city: 'Paris', unit: 'celsius' } }, sessionKey: expect.stringMatching(/^agent:beta:/u) });
    await expectSchemasReachedUpstream(before);
    expect(await program.streamText(client, 'beta')).toEqual({ text: 'It is 21 degrees in Paris.', totalTokens: expect.any(Number) });
    expect(await program.refusedCode(setup.gateway.url)).toBe('invalid_api_key');
  });
});

describe('orval 7.13.2 (fetch client)', () => {
  it('generates the client without a warning', () => {
    expect(generated.orval.code, generated.orval.output).toBe(0);
    expect(generated.orval.output).toMatch(/orval v7\.13\.2/u);
    expect(generated.orval.output).not.toMatch(TROUBLE);
  });

  it('a typed program (tools with JSON Schema parameters, json_schema response format, stream) type-checks', () => {
    expect(typechecked.orval.code, typechecked.orval.output).toBe(0);
    expect(typechecked.orval.output).toBe('');
  });

  it('runs against the real gateway: the tool-call round trip and the stream', async () => {
    const program = (await import(programFile('orval-program.ts'))) as OrvalProgram;
    program.configureGateway({ baseUrl: setup.gateway.url, token: setup.gateway.token });
    const before = setup.upstream.requests.length;
    const result = await program.toolRoundTrip('beta');
    expect(result).toEqual({ reply: 'It is 21 degrees in Paris.', call: { name: 'get_weather', arguments: { city: 'Paris', unit: 'celsius' } }, sessionKey: expect.stringMatching(/^agent:beta:/u) });
    await expectSchemasReachedUpstream(before);
    expect(await program.streamText(setup.gateway.token, 'beta')).toEqual({ text: 'It is 21 degrees in Paris.', totalTokens: expect.any(Number) });
  });
});

/** The first request after `before` carried both JSON Schemas to the model unchanged; the second answered the call. */
async function expectSchemasReachedUpstream(before: number): Promise<void> {
  const { weatherParameters, answerSchema } = await import('./third-party/shared.js');
  const [first, second] = setup.upstream.requests.slice(before);
  expect((first?.body.tools as { function: { parameters: unknown } }[])[0]?.function.parameters).toEqual(weatherParameters);
  expect((first?.body.response_format as { json_schema: { schema: unknown } }).json_schema.schema).toEqual(answerSchema);
  expect((second?.body.messages as { role: string; tool_call_id?: string }[]).find((m) => m.role === 'tool')?.tool_call_id).toBe('call_weather_1');
}
