/**
 * src/config/load.ts: JSON5 parsing, `${NAME}` substitution, schema errors with key
 * paths, cross-checks, precedence (flag > file > env > default), config and state paths,
 * and the start-up refusal without a secret.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ConfigError,
  DEFAULT_LIMITS,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_PROVIDER_MAX_QUEUED,
  DEFAULT_PORT,
  assertStartable,
  parseConfig,
  readConfigFile,
  resolveConfigPath,
  resolveGatewayConfig,
  resolveStateDir,
  type GatewayFlags,
} from '../../src/config/load.js';
import type { ConfigFile } from '../../src/config/types.js';

/** The ConfigError thrown by `fn`; fails the test when it does not throw one. */
function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError, nothing was thrown');
}

const resolve = (file: ConfigFile, flags: GatewayFlags = {}, env: Record<string, string> = {}) => resolveGatewayConfig(file, flags, env);

describe('parseConfig', () => {
  it('reads JSON5: comments, unquoted keys, single quotes, trailing commas', () => {
    const text = `// a comment
      {
        gateway: { port: 1234, auth: { mode: 'token', token: 'abc', }, },
        /* block */ agents: { list: [{ id: 'main', systemPrompt: "hi", },], },
      }`;
    expect(parseConfig(text, {}, 'test.json5')).toEqual({
      gateway: { port: 1234, auth: { mode: 'token', token: 'abc' } },
      agents: { list: [{ id: 'main', systemPrompt: 'hi' }] },
    });
  });

  it('reports text that is not JSON5 with its source', () => {
    const err = configError(() => parseConfig('{ gateway: ', {}, '/etc/moltbot.json5'));
    expect(err.message).toContain('/etc/moltbot.json5');
    expect(err.message).toMatch(/JSON5/u);
    expect(err.exitCode).toBe(2);
  });

  it('substitutes ${NAME} in string values, anywhere in the tree', () => {
    const text = `{
      gateway: { auth: { token: '\${TOK}' } },
      models: { providers: { local: { api: 'openai-completions', baseUrl: 'http://\${HOST}:\${PORT}/v1', apiKey: 'k-\${KEY}' } } },
      agents: { list: [{ id: 'main', model: 'local/m', systemPrompt: 'Hello \${WHO}, \${WHO}!' }] },
    }`;
    const env = { TOK: 'secret', HOST: '10.0.0.1', PORT: '8080', KEY: '', WHO: 'Ada' };
    const file = parseConfig(text, env, 'test');
    expect(file.gateway?.auth?.token).toBe('secret');
    expect(file.models?.providers?.local).toEqual({ api: 'openai-completions', baseUrl: 'http://10.0.0.1:8080/v1', apiKey: 'k-' });
    expect(file.agents?.list?.[0]?.systemPrompt).toBe('Hello Ada, Ada!');
  });

  it('leaves text that is not a ${NAME} reference alone', () => {
    const file = parseConfig(`{ agents: { list: [{ id: 'main', systemPrompt: 'costs $5 and {braces} and \${ not a var }' }] } }`, {}, 'test');
    expect(file.agents?.list?.[0]?.systemPrompt).toBe('costs $5 and {braces} and ${ not a var }');
  });

  it('an unset variable is an error naming the variable and the key', () => {
    const err = configError(() => parseConfig(`{ gateway: { auth: { token: '\${MISSING_TOKEN}' } } }`, {}, 'test'));
    expect(err.message).toContain('MISSING_TOKEN');
    expect(err.message).toContain('gateway.auth.token');
  });

  it('names array elements in the key of an unset variable', () => {
    const err = configError(() => parseConfig(`{ agents: { list: [{ id: 'main' }, { id: 'b', systemPrompt: '\${NOPE}' }] } }`, {}, 'test'));
    expect(err.message).toContain('agents.list[1].systemPrompt');
    expect(err.message).toContain('NOPE');
  });

  it('an unknown key is an error with its path', () => {
    const err = configError(() => parseConfig(`{ gateway: { htp: { maxBodyBytes: 4096 } } }`, {}, 'test'));
    expect(err.message).toContain('gateway.htp');
    expect(err.message).toContain('unknown key');
  });

  it.each([
    [`{ gatway: {} }`, 'gatway'],
    [`{ gateway: { auth: { tokn: 'x' } } }`, 'gateway.auth.tokn'],
    [`{ gateway: { http: { endpoints: { chatCompletion: { enabled: true } } } } }`, 'gateway.http.endpoints.chatCompletion'],
    [`{ agents: { list: [{ id: 'main', prompt: 'x' }] } }`, 'agents.list[0].prompt'],
  ])('reports the unknown key in %s as %s', (text, path) => {
    expect(configError(() => parseConfig(text, {}, 'test')).message).toContain(path);
  });

  it.each([
    [`{ gateway: { port: 'abc' } }`, 'gateway.port', /integer/u],
    [`{ gateway: { port: 70000 } }`, 'gateway.port', /<=|maximum|65535/u],
    [`{ gateway: { auth: { mode: 'basic' } } }`, 'gateway.auth.mode', /allowed values|equal to one of/u],
    [`{ gateway: { http: { endpoints: { chatCompletions: { enabled: 'yes' } } } } }`, 'gateway.http.endpoints.chatCompletions.enabled', /boolean/u],
    [`{ gateway: { http: { maxBodyBytes: 10 } } }`, 'gateway.http.maxBodyBytes', /1024/u],
    [`{ agents: { list: [{ id: 'bad id' }] } }`, 'agents.list[0].id', /pattern/u],
    [`{ agents: { list: [{ name: 'no id' }] } }`, 'agents.list[0]', /id/u],
    [`{ agents: { defaults: { model: 'no-slash' } } }`, 'agents.defaults.model', /pattern/u],
  ])('a wrong value in %s is reported at %s with the reason', (text, path, reason) => {
    const err = configError(() => parseConfig(text, {}, 'test.json5'));
    expect(err.message).toContain('test.json5');
    expect(err.message).toContain(path);
    expect(err.message).toMatch(reason);
  });

  it('lists every problem, not just the first', () => {
    const err = configError(() => parseConfig(`{ gateway: { port: 'x', htp: 1 }, agents: { lst: [] } }`, {}, 'test'));
    expect(err.message).toContain('gateway.port');
    expect(err.message).toContain('gateway.htp');
    expect(err.message).toContain('agents.lst');
  });

  it('checks provider entries: openai-completions needs a baseUrl and takes no unknown keys', () => {
    expect(() => parseConfig(`{ models: { providers: { local: { api: 'openai-completions' } } } }`, {}, 'test')).toThrow(ConfigError);
    const err = configError(() =>
      parseConfig(`{ models: { providers: { local: { api: 'openai-completions', baseUrl: 'http://x/v1', apikey: 'k' } } } }`, {}, 'test'),
    );
    expect(err.message).toContain('models.providers.local');
    expect(() => parseConfig(`{ models: { providers: { local: { api: 'openai-completions', baseUrl: 'ftp://x' } } } }`, {}, 'test')).toThrow(ConfigError);
    expect(() =>
      parseConfig(`{ models: { providers: { local: { api: 'openai-completions', baseUrl: 'http://x/v1', maxRetries: 0, timeoutSeconds: 5 } } } }`, {}, 'test'),
    ).not.toThrow();
  });
});

describe('resolveGatewayConfig', () => {
  it('applies defaults to an empty file', () => {
    const config = resolve({});
    expect(config.gateway.port).toBe(DEFAULT_PORT);
    expect(config.gateway.host).toBe('127.0.0.1');
    expect(config.gateway.auth).toEqual({
      mode: 'token',
      secret: undefined,
      rateLimit: { enabled: true, maxFailures: 20, windowMs: 60_000, blockMs: 60_000, exemptLoopback: false, maxTracked: 10_000 },
    });
    expect(config.gateway.http).toMatchObject({ maxStringLength: 1_048_576, maxDepth: 32, headersTimeoutMs: 10_000, requestTimeoutMs: 30_000 });
    expect(config.gateway.http).toMatchObject({ maxBodyBytes: DEFAULT_MAX_BODY_BYTES, chatCompletionsEnabled: false, sseKeepAliveSeconds: 15, corsOrigins: [] });
    expect(config.agents).toEqual([
      {
        id: 'main',
        provider: 'echo',
        model: 'echo',
        systemPrompt: '',
        history: { maxTurns: 50, maxTokens: 32000 },
        timeoutSeconds: 600,
        maxReplyBytes: 32 * 1024 * 1024,
        reset: { mode: 'daily', atHour: 4 },
      },
    ]);
    expect(config.defaultAgentId).toBe('main');
    // Sized for many users of a slow model (docs/decisions/0001-default-run-limits.md); no provider is capped.
    expect(config.limits).toEqual({ maxConcurrent: 2048, maxQueued: 2048, providers: {} });
    expect(DEFAULT_LIMITS).toEqual({ maxConcurrent: 2048, maxQueued: 2048 });
    expect(config.gateway.shutdownGraceSeconds).toBe(10);
    expect(config.providers.echo).toEqual({ api: 'echo' });
  });

  it('splits agent models into provider and model name, and applies agent defaults', () => {
    const config = resolve({
      models: { providers: { local: { api: 'openai-completions', baseUrl: 'http://127.0.0.1:1/v1' } } },
      agents: {
        defaults: { model: 'local/llama3:8b', systemPrompt: 'default prompt' },
        list: [{ id: 'Main' }, { id: 'beta', model: 'local/org/model', systemPrompt: 'beta prompt', name: 'Beta' }, { id: 'gamma', model: 'echo/x' }],
      },
    });
    expect(config.agents).toMatchObject([
      { id: 'main', provider: 'local', model: 'llama3:8b', systemPrompt: 'default prompt' },
      { id: 'beta', name: 'Beta', provider: 'local', model: 'org/model', systemPrompt: 'beta prompt' },
      { id: 'gamma', provider: 'echo', model: 'x', systemPrompt: 'default prompt' },
    ]);
    expect(config.agents.map((a) => a.name)).toEqual([undefined, 'Beta', undefined]);
  });

  it('resolves reset policy, history, timeout and limits: agent over defaults over global over built-in', () => {
    const config = resolve({
      session: { reset: { mode: 'idle', idleMinutes: 30 } },
      agents: {
        defaults: { history: { maxTurns: 5 }, timeoutSeconds: 20, maxConcurrent: 2, maxQueued: 1 },
        list: [{ id: 'main' }, { id: 'beta', session: { reset: { mode: 'never' } }, history: { maxTokens: 100 }, timeoutSeconds: 3 }, { id: 'gamma', session: { reset: { mode: 'daily' } } }],
      },
    });
    expect(config.agents.map((a) => [a.reset, a.history, a.timeoutSeconds])).toEqual([
      [{ mode: 'idle', idleMinutes: 30 }, { maxTurns: 5 }, 20],
      [{ mode: 'never' }, { maxTokens: 100 }, 3],
      [{ mode: 'daily', atHour: 4 }, { maxTurns: 5 }, 20],
    ]);
    expect(config.limits).toEqual({ maxConcurrent: 2, maxQueued: 1, providers: {} });
  });

  it('caps a provider only where models.providers.<id>.maxConcurrent is set; its queue defaults to 64', () => {
    const config = resolve({
      models: {
        providers: {
          local: { api: 'openai-completions', baseUrl: 'http://127.0.0.1:11434/v1', maxConcurrent: 2 },
          vllm: { api: 'openai-completions', baseUrl: 'http://127.0.0.1:8000/v1', maxConcurrent: 16, maxQueued: 0 },
          cloud: { api: 'anthropic-messages' },
          echo: { api: 'echo', maxConcurrent: 1, maxQueued: 5 },
        },
      },
    });
    expect(config.limits.providers).toEqual({
      local: { maxConcurrent: 2, maxQueued: DEFAULT_PROVIDER_MAX_QUEUED },
      vllm: { maxConcurrent: 16, maxQueued: 0 },
      echo: { maxConcurrent: 1, maxQueued: 5 },
    });
    expect(DEFAULT_PROVIDER_MAX_QUEUED).toBe(64);
  });

  it("a provider's maxQueued without its maxConcurrent is an error naming the key", () => {
    const err = configError(() => resolve({ models: { providers: { local: { api: 'openai-completions', baseUrl: 'http://x/v1', maxQueued: 8 } } } }));
    expect(err.message).toContain('models.providers.local.maxQueued');
    expect(err.message).toContain('maxConcurrent');
  });

  it('refuses a provider cap below 1 and a negative provider queue', () => {
    for (const limits of ['maxConcurrent: 0', 'maxConcurrent: 1.5', 'maxConcurrent: 2, maxQueued: -1']) {
      const err = configError(() => parseConfig(`{ models: { providers: { local: { api: 'openai-completions', baseUrl: 'http://x/v1', ${limits} } } } }`, {}, 'test'));
      expect(err.message).toContain('models.providers.local');
    }
  });

  it("maxReplyBytes: the agent's, else agents.defaults', else its provider's, else 32 MiB", () => {
    const providers = {
      capped: { api: 'openai-completions' as const, baseUrl: 'http://127.0.0.1:1/v1', maxEventBytes: 65536, maxReplyBytes: 2048 },
      plain: { api: 'anthropic-messages' as const },
    };
    const plain = resolve({
      models: { providers },
      agents: { list: [{ id: 'a', model: 'capped/m' }, { id: 'b', model: 'capped/m', maxReplyBytes: 4096 }, { id: 'c', model: 'plain/m' }, { id: 'd', model: 'echo/e' }] },
    });
    expect(plain.agents.map((a) => a.maxReplyBytes)).toEqual([2048, 4096, 32 * 1024 * 1024, 32 * 1024 * 1024]);
    expect(plain.providers.capped).toMatchObject({ maxEventBytes: 65536, maxReplyBytes: 2048 });
    const defaults = resolve({
      models: { providers },
      agents: { defaults: { maxReplyBytes: 8192 }, list: [{ id: 'a', model: 'capped/m' }, { id: 'b', model: 'capped/m', maxReplyBytes: 4096 }] },
    });
    expect(defaults.agents.map((a) => a.maxReplyBytes)).toEqual([8192, 4096]);
  });

  it('caps below 1 KiB, or not whole numbers, are refused with their key', () => {
    expect(configError(() => parseConfig(`{ agents: { defaults: { maxReplyBytes: 10 } } }`, {}, 'test')).message).toContain('agents.defaults.maxReplyBytes');
    const err = configError(() =>
      parseConfig(`{ models: { providers: { local: { api: 'openai-completions', baseUrl: 'http://x/v1', maxEventBytes: 1.5 } } } }`, {}, 'test'),
    );
    expect(err.message).toContain('models.providers.local');
  });

  it("an idle reset without idleMinutes is an error naming the key", () => {
    const err = configError(() => resolve({ agents: { list: [{ id: 'main', session: { reset: { mode: 'idle' } } }] } }));
    expect(err.message).toContain('agents.list[0].session.reset.idleMinutes');
  });

  it('an agent pointing at an unconfigured provider is an error naming the key, not the value (it may hold a secret)', () => {
    const err = configError(() => resolve({ agents: { list: [{ id: 'main' }, { id: 'beta', model: 'openai/gpt-4o' }] } }));
    expect(err.message).toContain('agents.list[1].model');
    expect(err.message).toContain('known: echo');
    expect(err.message).not.toContain('openai');
  });

  it('a default model pointing at an unconfigured provider is an error naming agents.defaults.model', () => {
    const err = configError(() => resolve({ agents: { defaults: { model: 'ollama/llama3' }, list: [{ id: 'main' }] } }));
    expect(err.message).toContain('agents.defaults.model');
    expect(err.message).not.toContain('ollama');
  });

  it('duplicate agent ids are an error, case-insensitively', () => {
    const err = configError(() => resolve({ agents: { list: [{ id: 'main' }, { id: 'beta' }, { id: 'MAIN' }] } }));
    expect(err.message).toContain('agents.list[2].id');
    expect(err.message).toContain("'main'");
  });

  it('maps bind names to addresses', () => {
    expect(resolve({ gateway: { bind: 'loopback' } }).gateway.host).toBe('127.0.0.1');
    expect(resolve({ gateway: { bind: 'lan' } }).gateway.host).toBe('0.0.0.0');
    expect(resolve({ gateway: { bind: '10.1.2.3' } }).gateway.host).toBe('10.1.2.3');
    expect(resolve({ gateway: { bind: 'loopback' } }, { bind: 'lan' }).gateway.host).toBe('0.0.0.0');
  });

  describe('precedence: flag > file > env > default', () => {
    it('for the port', () => {
      const env = { CLAWDBOT_GATEWAY_PORT: '3000' };
      expect(resolve({ gateway: { port: 2000 } }, { port: 1000 }, env).gateway.port).toBe(1000);
      expect(resolve({ gateway: { port: 2000 } }, {}, env).gateway.port).toBe(2000);
      expect(resolve({}, {}, env).gateway.port).toBe(3000);
      expect(resolve({}, {}, { MOLTBOT_GATEWAY_PORT: '3001' }).gateway.port).toBe(3001);
      expect(resolve({}, {}, {}).gateway.port).toBe(DEFAULT_PORT);
    });

    it('refuses an env port that is not a port number', () => {
      expect(configError(() => resolve({}, {}, { CLAWDBOT_GATEWAY_PORT: 'eighty' })).message).toContain('eighty');
      expect(() => resolve({}, {}, { CLAWDBOT_GATEWAY_PORT: '70000' })).toThrow(ConfigError);
    });

    it('for the token', () => {
      const env = { CLAWDBOT_GATEWAY_TOKEN: 'tok-env' };
      const file: ConfigFile = { gateway: { auth: { token: 'tok-file' } } };
      expect(resolve(file, { token: 'tok-flag' }, env).gateway.auth).toMatchObject({ mode: 'token', secret: 'tok-flag' });
      expect(resolve(file, {}, env).gateway.auth).toMatchObject({ mode: 'token', secret: 'tok-file' });
      expect(resolve({}, {}, env).gateway.auth).toMatchObject({ mode: 'token', secret: 'tok-env' });
      expect(resolve({}, {}, { MOLTBOT_GATEWAY_TOKEN: 'tok-molt' }).gateway.auth).toMatchObject({ mode: 'token', secret: 'tok-molt' });
      expect(resolve({}, {}, {}).gateway.auth).toMatchObject({ mode: 'token', secret: undefined });
    });

    it('for the password', () => {
      const env = { CLAWDBOT_GATEWAY_PASSWORD: 'pw-env' };
      const file: ConfigFile = { gateway: { auth: { mode: 'password', password: 'pw-file' } } };
      expect(resolve(file, { password: 'pw-flag' }, env).gateway.auth).toMatchObject({ mode: 'password', secret: 'pw-flag' });
      expect(resolve(file, {}, env).gateway.auth).toMatchObject({ mode: 'password', secret: 'pw-file' });
      expect(resolve({ gateway: { auth: { mode: 'password' } } }, {}, env).gateway.auth).toMatchObject({ mode: 'password', secret: 'pw-env' });
      expect(resolve({ gateway: { auth: { mode: 'password' } } }, {}, {}).gateway.auth).toMatchObject({ mode: 'password', secret: undefined });
    });

    it('for the mode', () => {
      const file: ConfigFile = { gateway: { auth: { mode: 'token', token: 't', password: 'p' } } };
      expect(resolve(file, { auth: 'password' }).gateway.auth).toMatchObject({ mode: 'password', secret: 'p' });
      expect(resolve(file).gateway.auth).toMatchObject({ mode: 'token', secret: 't' });
      // Without an explicit mode: password when only a password is set (from any source)…
      expect(resolve({ gateway: { auth: { password: 'p' } } }).gateway.auth).toMatchObject({ mode: 'password', secret: 'p' });
      expect(resolve({}, {}, { CLAWDBOT_GATEWAY_PASSWORD: 'p-env' }).gateway.auth).toMatchObject({ mode: 'password', secret: 'p-env' });
      expect(resolve({}, { password: 'p-flag' }).gateway.auth).toMatchObject({ mode: 'password', secret: 'p-flag' });
      // …and token otherwise.
      expect(resolve({ gateway: { auth: { token: 't', password: 'p' } } }).gateway.auth).toMatchObject({ mode: 'token', secret: 't' });
      expect(resolve({}).gateway.auth.mode).toBe('token');
    });

    it('ignores empty environment values', () => {
      expect(resolve({}, {}, { CLAWDBOT_GATEWAY_TOKEN: '', MOLTBOT_GATEWAY_TOKEN: 'molt' }).gateway.auth.secret).toBe('molt');
      expect(resolve({}, {}, { CLAWDBOT_GATEWAY_PORT: '' }).gateway.port).toBe(DEFAULT_PORT);
    });
  });

  it('takes the body limit and the endpoint switch from the file', () => {
    const config = resolve({ gateway: { http: { maxBodyBytes: 4096, endpoints: { chatCompletions: { enabled: true } } } } });
    expect(config.gateway.http).toMatchObject({ maxBodyBytes: 4096, chatCompletionsEnabled: true, sseKeepAliveSeconds: 15, corsOrigins: [] });
  });
});

describe('the session store settings', () => {
  const DAY = 86_400_000;
  it('default: stateless transcripts kept 7 days, user and explicit forever; no size cap; replies stored up to 8 MiB', () => {
    expect(resolve({}).store).toEqual({ database: { kind: 'sqlite' }, maxBytes: undefined, retention: { stateless: 7 * DAY, user: undefined, explicit: undefined }, maxStoredReplyBytes: 8 * 1024 * 1024 });
  });

  it('session.retention takes durations (s, m, h, d), forever or null, per kind; session.maxStoreBytes a byte count', () => {
    const file = parseConfig(`{ session: { retention: { stateless: '12h', user: '30d', explicit: null }, maxStoreBytes: 1073741824, maxStoredReplyBytes: 65536 } }`, {}, 't');
    expect(resolve(file).store).toEqual({ database: { kind: 'sqlite' }, maxBytes: 1_073_741_824, retention: { stateless: 12 * 3_600_000, user: 30 * DAY, explicit: undefined }, maxStoredReplyBytes: 65_536 });
    const more = parseConfig(`{ session: { retention: { stateless: 'forever', user: '15m', explicit: '0s' } } }`, {}, 't');
    expect(resolve(more).store.retention).toEqual({ stateless: undefined, user: 15 * 60_000, explicit: 0 });
  });

  it('a period that is not a duration, an unknown kind, or a tiny store cap is an error with its key', () => {
    const err = configError(() => parseConfig(`{ session: { retention: { stateless: '7 days', users: '1d' }, maxStoreBytes: 1000, maxStoredReplyBytes: 10 } }`, {}, 't'));
    expect(err.message).toContain('session.maxStoredReplyBytes: must be >= 1024');
    expect(err.message).toContain('session.retention.stateless: must match pattern');
    expect(err.message).toContain('session.retention.users: unknown key');
    expect(err.message).toContain('session.maxStoreBytes: must be >= 65536');
    // Per agent, only the reset policy: the store is shared.
    expect(configError(() => parseConfig(`{ agents: { list: [{ id: 'a', session: { retention: {} } }] } }`, {}, 't')).message).toContain('unknown key');
  });

  it('session.store: sqlite (the default) or postgres with url (${ENV} substituted), poolSize, schema, statementTimeoutMs', () => {
    const secretUrl = 'postgres://moltbot:pg-test-secret-8c41d2e7@db.internal:5433/moltbot';
    const file = parseConfig(
      `{ session: { store: { kind: 'postgres', url: '\${MOLTBOT_DATABASE_URL}', poolSize: 20, schema: 'gw', statementTimeoutMs: 5000 } } }`,
      { MOLTBOT_DATABASE_URL: secretUrl },
      't',
    );
    expect(resolve(file).store.database).toEqual({ kind: 'postgres', url: secretUrl, poolSize: 20, schema: 'gw', statementTimeoutMs: 5000 });
    expect(resolve(parseConfig(`{ session: { store: { kind: 'sqlite' } } }`, {}, 't')).store.database).toEqual({ kind: 'sqlite' });
    // Wrong values are named by key; the URL's value (it may hold a password) is never repeated.
    const bad = configError(() =>
      parseConfig(`{ session: { store: { kind: 'postgres', url: 'mysql://u:pg-test-secret-8c41d2e7@h/d', schema: 'Bad-Name', poolSize: 0, extra: 1 } } }`, {}, 't'),
    );
    expect(bad.message).toContain('session.store.url: must match pattern');
    expect(bad.message).toContain('session.store.schema: must match pattern');
    expect(bad.message).toContain('session.store.poolSize: must be >= 1');
    expect(bad.message).toContain('session.store.extra: unknown key');
    expect(bad.message).not.toContain('pg-test-secret-8c41d2e7');
    expect(configError(() => parseConfig(`{ session: { store: { kind: 'postgres' } } }`, {}, 't')).message).toContain('session.store: must have required property');
    expect(configError(() => parseConfig(`{ session: { store: { kind: 'sqlite', url: 'postgres://x' } } }`, {}, 't')).message).toContain('session.store.url: unknown key');
    // maxStoreBytes caps the SQLite file: refused with PostgreSQL.
    expect(configError(() => resolve(parseConfig(`{ session: { maxStoreBytes: 1048576, store: { kind: 'postgres', url: 'postgres://h/d' } } }`, {}, 't'))).message).toContain(
      'session.maxStoreBytes',
    );
  });
});

describe('config and state paths', () => {
  const dir = mkdtempSync(join(tmpdir(), 'moltbot-config-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('resolveConfigPath: --config, else MOLTBOT_CONFIG_PATH, else CLAWDBOT_CONFIG_PATH, else ~/.moltbot/moltbot.json', () => {
    const env = { MOLTBOT_CONFIG_PATH: '/m.json5', CLAWDBOT_CONFIG_PATH: '/c.json5' };
    expect(resolveConfigPath('/flag.json5', env)).toEqual({ path: '/flag.json5', explicit: true });
    expect(resolveConfigPath(undefined, env)).toEqual({ path: '/m.json5', explicit: true });
    expect(resolveConfigPath(undefined, { CLAWDBOT_CONFIG_PATH: '/c.json5' })).toEqual({ path: '/c.json5', explicit: true });
    expect(resolveConfigPath(undefined, {})).toEqual({ path: join(homedir(), '.moltbot', 'moltbot.json'), explicit: false });
  });

  it('resolveStateDir: MOLTBOT_STATE_DIR, else CLAWDBOT_STATE_DIR, else ~/.moltbot', () => {
    expect(resolveStateDir({ MOLTBOT_STATE_DIR: '/m', CLAWDBOT_STATE_DIR: '/c' })).toBe('/m');
    expect(resolveStateDir({ CLAWDBOT_STATE_DIR: '/c' })).toBe('/c');
    expect(resolveStateDir({})).toBe(join(homedir(), '.moltbot'));
    expect(resolve({}, {}, { CLAWDBOT_STATE_DIR: '/state' }).stateDir).toBe('/state');
  });

  it('readConfigFile reads and substitutes a file found through MOLTBOT_CONFIG_PATH', () => {
    const path = join(dir, 'moltbot.json5');
    writeFileSync(path, `{ gateway: { auth: { token: '\${T}' } } } // json5`);
    const env = { MOLTBOT_CONFIG_PATH: path, T: 'file-token' };
    const where = resolveConfigPath(undefined, env);
    expect(readConfigFile(where.path, where.explicit, env)).toEqual({ gateway: { auth: { token: 'file-token' } } });
  });

  it('readConfigFile reports the file path of an invalid file', () => {
    const path = join(dir, 'bad.json5');
    writeFileSync(path, `{ gateway: { htp: {} } }`);
    const err = configError(() => readConfigFile(path, true, {}));
    expect(err.message).toContain(path);
    expect(err.message).toContain('gateway.htp');
  });

  it('a missing file is an error only when it was asked for', () => {
    const missing = join(dir, 'nope.json5');
    expect(readConfigFile(missing, false, {})).toEqual({});
    const err = configError(() => readConfigFile(missing, true, {}));
    expect(err.message).toContain(missing);
    expect(err.message).toContain('ENOENT');
  });
});

describe('assertStartable', () => {
  it('accepts a gateway with a secret, on loopback or not', () => {
    expect(() => assertStartable(resolve({ gateway: { auth: { token: 't' } } }))).not.toThrow();
    expect(() => assertStartable(resolve({ gateway: { bind: 'lan', auth: { password: 'p' } } }))).not.toThrow();
  });

  it('refuses token mode without a token, saying how to set one', () => {
    const err = configError(() => assertStartable(resolve({})));
    expect(err.message).toContain('CLAWDBOT_GATEWAY_TOKEN');
    expect(err.message).toContain('--token');
    expect(err.message).toContain('gateway.auth.token');
    expect(err.exitCode).toBe(2);
  });

  it('refuses an empty token', () => {
    expect(() => assertStartable(resolve({ gateway: { auth: { token: '' } } }))).toThrow(ConfigError);
  });

  it('refuses password mode without a password, saying how to set one', () => {
    const err = configError(() => assertStartable(resolve({ gateway: { auth: { mode: 'password', token: 'unused' } } })));
    expect(err.message).toContain('CLAWDBOT_GATEWAY_PASSWORD');
    expect(err.message).toContain('--password');
  });

  it('refuses a non-loopback bind without a secret, naming the address', () => {
    for (const bind of ['lan', '192.168.1.10']) {
      const err = configError(() => assertStartable(resolve({ gateway: { bind } })));
      expect(err.message).toContain(bind === 'lan' ? '0.0.0.0' : bind);
      expect(err.message).toContain('--token');
    }
  });
});

describe('observability settings', () => {
  const resolve = (file: ConfigFile, env: Record<string, string> = {}): ReturnType<typeof resolveGatewayConfig> =>
    resolveGatewayConfig(parseConfig(JSON.stringify(file), env, 'test'), {}, env);

  it('metrics on and behind the gateway auth, tracing off, by default', () => {
    const { gateway } = resolve({});
    expect(gateway.metrics).toEqual({ enabled: true, auth: 'gateway' });
    expect(gateway.tracing).toEqual({ enabled: false, serviceName: 'moltbot-gateway', tracesUrl: 'http://localhost:4318/v1/traces' });
  });

  it('OTEL_EXPORTER_OTLP_ENDPOINT turns tracing on and says where spans go; the file wins over it', () => {
    const env = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/', OTEL_SERVICE_NAME: 'gw-a' };
    expect(resolve({}, env).gateway.tracing).toEqual({ enabled: true, serviceName: 'gw-a', tracesUrl: 'http://collector:4318/v1/traces' });
    expect(resolve({ gateway: { tracing: { enabled: false } } }, env).gateway.tracing.enabled).toBe(false);
    expect(resolve({ gateway: { tracing: { endpoint: 'https://otel.example' } } }, env).gateway.tracing.tracesUrl).toBe('https://otel.example/v1/traces');
    expect(resolve({}, { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/custom' }).gateway.tracing).toMatchObject({ enabled: true, tracesUrl: 'http://c:4318/custom' });
  });

  it('refuses unknown metrics auth and a non-URL tracing endpoint, naming the key', () => {
    expect(configError(() => parseConfig('{ gateway: { metrics: { auth: "open" } } }', {}, 'test')).message).toContain('gateway.metrics.auth');
    expect(configError(() => parseConfig('{ gateway: { tracing: { endpoint: "collector:4318" } } }', {}, 'test')).message).toContain('gateway.tracing.endpoint');
  });
});
