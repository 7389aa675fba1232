import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import JSON5 from 'json5';
import type { ValidateFunction } from 'ajv';
import * as precompiled from '../../generated/config-validator.js';
import { fieldPath } from '../field-path.js';
import { parseDuration } from './duration.js';
import type { AgentConfig, AuthMode, ConfigFile, GatewayConfig, ProviderConfig, ResetPolicy, SessionSettings, StoreSettings } from './types.js';

/** A config or start-up problem; the CLI prints the message and exits with code 2. */
export class ConfigError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Flags of `moltbot gateway` that override the config file. */
export interface GatewayFlags {
  port?: number;
  bind?: string;
  auth?: AuthMode;
  token?: string;
  password?: string;
}

type Env = Readonly<Record<string, string | undefined>>;

export const DEFAULT_PORT = 18789;
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
export const DEFAULT_AGENT_ID = 'main';
export const DEFAULT_MODEL = 'echo/echo';
/** Like the page's gateway: a session's transcript starts afresh daily at 04:00 local time. */
export const DEFAULT_RESET = { mode: 'daily', atHour: 4 } as const satisfies ResetPolicy;
/** Enough context for a conversation, bounded so a constant `user` cannot grow requests forever. */
export const DEFAULT_HISTORY = { maxTurns: 50, maxTokens: 32_000 } as const;
export const DEFAULT_TIMEOUT_SECONDS = 600;
/** One reply from a model: text and tool-call arguments, in UTF-8 bytes. */
export const DEFAULT_MAX_REPLY_BYTES = 32 * 1024 * 1024;
/**
 * Runs across all sessions: sized by memory (a running turn ~50-110 kB, a queued one
 * ~25-50 kB; 2,048 of each stay within a 512 MB process) and file descriptors (2 per
 * running turn, 1 per queued: ~6,200 in all), not by any upstream: a provider that takes
 * only so many requests at once gets `models.providers.<id>.maxConcurrent`.
 * docs/decisions/0001-default-run-limits.md has the figures.
 */
export const DEFAULT_LIMITS = { maxConcurrent: 2048, maxQueued: 2048 } as const;
/** Turns waiting for a capped provider's slot, when its `maxQueued` is not set. */
export const DEFAULT_PROVIDER_MAX_QUEUED = 64;
export const DEFAULT_SHUTDOWN_GRACE_SECONDS = 10;
export const DEFAULT_SSE_KEEP_ALIVE_SECONDS = 15;
export const DEFAULT_INPUT_LIMITS = { maxStringLength: 1024 * 1024, maxDepth: 32 } as const;
export const DEFAULT_HTTP_TIMEOUTS = { headersTimeoutSeconds: 10, requestTimeoutSeconds: 30 } as const;
/** 20 failures in 60 s block an address for 60 s; 10,000 addresses remembered at most. */
export const DEFAULT_AUTH_RATE_LIMIT = { enabled: true, maxFailures: 20, windowSeconds: 60, blockSeconds: 60, exemptLoopback: false, maxTracked: 10_000 } as const;
/** Replies up to 8 MiB are stored whole; larger ones are stored cut, with a marker. */
export const DEFAULT_MAX_STORED_REPLY_BYTES = 8 * 1024 * 1024;
/** Stateless (random-key) transcripts are kept a week; `user` and explicit sessions forever. */
export const DEFAULT_RETENTION = { stateless: '7d', user: 'forever', explicit: 'forever' } as const;
export const DEFAULT_IMAGES = { maxCount: 8, maxBytes: 5 * 1024 * 1024, allowUrls: false, fetchTimeoutSeconds: 10 } as const;

/** First non-empty value among the named environment variables. */
function envValue(env: Env, ...names: string[]): string | undefined {
  for (const name of names) {
    const value = env[name];
    if (value !== undefined && value !== '') return value;
  }
  return undefined;
}

/** `--config`, else `$MOLTBOT_CONFIG_PATH` / `$CLAWDBOT_CONFIG_PATH`, else `~/.moltbot/moltbot.json`. */
export function resolveConfigPath(flag: string | undefined, env: Env): { path: string; explicit: boolean } {
  const chosen = flag ?? envValue(env, 'MOLTBOT_CONFIG_PATH', 'CLAWDBOT_CONFIG_PATH');
  return chosen ? { path: chosen, explicit: true } : { path: join(homedir(), '.moltbot', 'moltbot.json'), explicit: false };
}

/** `$MOLTBOT_STATE_DIR` / `$CLAWDBOT_STATE_DIR`, else `~/.moltbot`. */
export function resolveStateDir(env: Env): string {
  return envValue(env, 'MOLTBOT_STATE_DIR', 'CLAWDBOT_STATE_DIR') ?? join(homedir(), '.moltbot');
}

/** Replaces `${NAME}` in every string value; an unset variable is an error naming the key. */
function substituteEnv(value: unknown, env: Env, path: string): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/gu, (_match, name: string) => {
      const found = env[name];
      if (found === undefined) throw new ConfigError(`config ${path}: environment variable ${name} is not set`);
      return found;
    });
  }
  if (Array.isArray(value)) return value.map((item, i) => substituteEnv(item, env, `${path}[${i}]`));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, substituteEnv(item, env, path ? `${path}.${key}` : key)]),
    );
  }
  return value;
}

/**
 * `configSchema` (schema.ts) precompiled by `npm run generate`: compiling it here cost
 * 400-700 ms of every start, and loading Ajv's compiler 250 ms more.
 */
const validateConfigFile = precompiled.validateConfigFile as unknown as ValidateFunction<ConfigFile>;

/** Ajv's `/a/b/0` instance path as `a.b[0]`, the way keys are written in the file. */
function keyPath(instancePath: string, extra?: string): string {
  const parts = instancePath.split('/').slice(1);
  if (extra) parts.push(extra);
  return fieldPath(parts);
}

/** Parses, substitutes and validates config text; `source` names it in messages. */
export function parseConfig(text: string, env: Env, source: string): ConfigFile {
  let raw: unknown;
  try {
    raw = JSON5.parse(text);
  } catch (err) {
    throw new ConfigError(`config ${source}: not valid JSON5: ${(err as Error).message}`);
  }
  const data = substituteEnv(raw, env, '');
  if (!validateConfigFile(data)) {
    const problems = (validateConfigFile.errors ?? [])
      .filter((e) => e.keyword !== 'oneOf' && e.keyword !== 'if')
      .map((e) => {
        const extra = e.keyword === 'additionalProperties' ? String(e.params.additionalProperty) : undefined;
        const where = keyPath(e.instancePath, extra) || '(root)';
        const reason = e.keyword === 'additionalProperties' ? 'unknown key' : e.message ?? 'invalid';
        return `  ${where}: ${reason}`;
      });
    throw new ConfigError(`config ${source} is invalid:\n${[...new Set(problems)].join('\n')}`);
  }
  return data;
}

/** Reads the config file; a missing file is an error only when it was asked for explicitly. */
export function readConfigFile(path: string, explicit: boolean, env: Env): ConfigFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (!explicit && (err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new ConfigError(`config ${path}: cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return parseConfig(text, env, path);
}

function bindAddress(bind: string): string {
  if (bind === 'loopback') return '127.0.0.1';
  if (bind === 'lan') return '0.0.0.0';
  return bind;
}

function parsePort(value: string, source: string): number {
  const port = Number(value);
  if (!/^\d+$/u.test(value) || port > 65535) throw new ConfigError(`${source}: '${value}' is not a port number`);
  return port;
}

/**
 * Node wants whole milliseconds, and a headers deadline no later than the request's: a
 * request timeout shorter than the default headers timeout lowers that too.
 */
/**
 * The WebSocket protocol's defaults: the reference's frame limit (512 KiB), slow-consumer
 * threshold (1.5 MiB), tick (30 s) and handshake timeout (10 s); connection caps sized for
 * many users of one gateway (each connection costs about a file descriptor and a few KiB).
 */
const DEFAULT_WS = {
  maxPayloadBytes: 512 * 1024,
  maxBufferedBytes: 1536 * 1024,
  tickIntervalSeconds: 30,
  handshakeTimeoutSeconds: 10,
  maxConnections: 2048,
  maxUnauthenticated: 256,
  maxInFlightPerConnection: 32,
};

function wsSettings(ws: NonNullable<ConfigFile['gateway']>['ws']): GatewayConfig['gateway']['ws'] {
  const { tickIntervalSeconds, handshakeTimeoutSeconds, ...rest } = { ...DEFAULT_WS, ...ws };
  return { ...rest, tickIntervalMs: Math.round(tickIntervalSeconds * 1000), handshakeTimeoutMs: Math.round(handshakeTimeoutSeconds * 1000) };
}

function httpTimeouts(http: { headersTimeoutSeconds?: number; requestTimeoutSeconds?: number } | undefined): { headersTimeoutMs: number; requestTimeoutMs: number } {
  const requestTimeoutMs = Math.round((http?.requestTimeoutSeconds ?? DEFAULT_HTTP_TIMEOUTS.requestTimeoutSeconds) * 1000);
  const headersTimeoutMs = Math.round((http?.headersTimeoutSeconds ?? DEFAULT_HTTP_TIMEOUTS.headersTimeoutSeconds) * 1000);
  return { headersTimeoutMs: Math.min(headersTimeoutMs, requestTimeoutMs), requestTimeoutMs };
}

function resetPolicy(settings: SessionSettings | undefined, path: string): ResetPolicy | undefined {
  const reset = settings?.reset;
  if (!reset) return undefined;
  if (reset.mode === 'never') return { mode: 'never' };
  if (reset.mode === 'daily') return { mode: 'daily', atHour: reset.atHour ?? DEFAULT_RESET.atHour };
  if (reset.idleMinutes === undefined) throw new ConfigError(`config ${path}.idleMinutes: required when mode is 'idle'`);
  return { mode: 'idle', idleMinutes: reset.idleMinutes };
}

/** `session.retention` in ms per kind: a duration, or undefined for `forever`/null. */
function retention(given: NonNullable<ConfigFile['session']>['retention']): GatewayConfig['store']['retention'] {
  const period = (kind: 'stateless' | 'user' | 'explicit'): number | undefined => {
    const value = given && kind in given ? given[kind] : DEFAULT_RETENTION[kind];
    return value === null || value === undefined || value === 'forever' ? undefined : parseDuration(value);
  };
  return { stateless: period('stateless'), user: period('user'), explicit: period('explicit') };
}

/** `session.store`; `maxStoreBytes` caps a file, so it goes with SQLite only. */
function storeSettings(session: ConfigFile['session']): StoreSettings {
  const store = session?.store ?? { kind: 'sqlite' };
  if (store.kind === 'postgres' && session?.maxStoreBytes !== undefined) {
    throw new ConfigError('config session.maxStoreBytes: caps the SQLite file; with session.store.kind "postgres" size the database instead');
  }
  return store;
}

/** The caps of the providers that have one; `maxQueued` alone means nothing and is refused. */
function providerLimits(providers: Record<string, ProviderConfig>): GatewayConfig['limits']['providers'] {
  const limits: GatewayConfig['limits']['providers'] = {};
  for (const [id, provider] of Object.entries(providers)) {
    if (provider.maxConcurrent === undefined) {
      if (provider.maxQueued !== undefined) {
        throw new ConfigError(`config models.providers.${id}.maxQueued: set only with maxConcurrent (it bounds the turns waiting for one of the provider's slots)`);
      }
      continue;
    }
    limits[id] = { maxConcurrent: provider.maxConcurrent, maxQueued: provider.maxQueued ?? DEFAULT_PROVIDER_MAX_QUEUED };
  }
  return limits;
}

function splitModel(ref: string, path: string, providers: Record<string, ProviderConfig>): { provider: string; model: string } {
  const slash = ref.indexOf('/');
  const provider = ref.slice(0, slash);
  if (!(provider in providers)) {
    const known = Object.keys(providers).join(', ') || 'none';
    // The value is not repeated: after ${ENV} substitution it may hold a secret.
    throw new ConfigError(`config ${path}: its provider (the part before '/') is not configured under models.providers (known: ${known})`);
  }
  return { provider, model: ref.slice(slash + 1) };
}

/**
 * Merges flags, file, environment and defaults, in that order of precedence, and checks
 * what the file alone cannot (agents point at configured providers, ids are unique).
 */
export function resolveGatewayConfig(file: ConfigFile, flags: GatewayFlags, env: Env): GatewayConfig {
  const auth = file.gateway?.auth;
  const token = flags.token ?? auth?.token ?? envValue(env, 'CLAWDBOT_GATEWAY_TOKEN', 'MOLTBOT_GATEWAY_TOKEN');
  const password =
    flags.password ?? auth?.password ?? envValue(env, 'CLAWDBOT_GATEWAY_PASSWORD', 'MOLTBOT_GATEWAY_PASSWORD');
  const mode: AuthMode = flags.auth ?? auth?.mode ?? (password !== undefined && token === undefined ? 'password' : 'token');
  const envPort = envValue(env, 'CLAWDBOT_GATEWAY_PORT', 'MOLTBOT_GATEWAY_PORT');
  const port = flags.port ?? file.gateway?.port ?? (envPort ? parsePort(envPort, 'CLAWDBOT_GATEWAY_PORT') : DEFAULT_PORT);

  // The echo stand-in is always available unless the file redefines the id.
  const providers: Record<string, ProviderConfig> = { echo: { api: 'echo' }, ...file.models?.providers };
  const defaults = file.agents?.defaults;
  const defaultModel = defaults?.model ?? DEFAULT_MODEL;
  const globalReset = resetPolicy(file.session, 'session.reset') ?? DEFAULT_RESET;
  const listed = file.agents?.list ?? [{ id: DEFAULT_AGENT_ID }];
  const seen = new Set<string>();
  const agents: AgentConfig[] = listed.map((entry, i) => {
    const id = entry.id.toLowerCase();
    if (seen.has(id)) throw new ConfigError(`config agents.list[${i}].id: '${id}' is listed twice`);
    seen.add(id);
    const path = entry.model ? `agents.list[${i}].model` : 'agents.defaults.model';
    const model = splitModel(entry.model ?? defaultModel, path, providers);
    const provider = providers[model.provider] as ProviderConfig;
    return {
      id,
      ...(entry.name === undefined ? {} : { name: entry.name }),
      ...model,
      systemPrompt: entry.systemPrompt ?? defaults?.systemPrompt ?? '',
      history: entry.history ?? defaults?.history ?? { ...DEFAULT_HISTORY },
      timeoutSeconds: entry.timeoutSeconds ?? defaults?.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS,
      // The agent's own cap, else the agents' default, else its provider's.
      maxReplyBytes:
        entry.maxReplyBytes ?? defaults?.maxReplyBytes ?? (provider.api === 'echo' ? undefined : provider.maxReplyBytes) ?? DEFAULT_MAX_REPLY_BYTES,
      reset: resetPolicy(entry.session, `agents.list[${i}].session.reset`) ?? globalReset,
    };
  });

  return {
    gateway: {
      port,
      host: bindAddress(flags.bind ?? file.gateway?.bind ?? 'loopback'),
      shutdownGraceSeconds: file.gateway?.shutdownGraceSeconds ?? DEFAULT_SHUTDOWN_GRACE_SECONDS,
      metrics: { enabled: file.gateway?.metrics?.enabled ?? true, auth: file.gateway?.metrics?.auth ?? 'gateway' },
      tracing: tracingSettings(file.gateway?.tracing, env),
      auth: {
        mode,
        secret: mode === 'token' ? token : password,
        rateLimit: (({ windowSeconds, blockSeconds, ...rest }) => ({ ...rest, windowMs: windowSeconds * 1000, blockMs: blockSeconds * 1000 }))({
          ...DEFAULT_AUTH_RATE_LIMIT,
          ...auth?.rateLimit,
        }),
      },
      ws: wsSettings(file.gateway?.ws),
      http: {
        maxBodyBytes: file.gateway?.http?.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
        maxStringLength: file.gateway?.http?.maxStringLength ?? DEFAULT_INPUT_LIMITS.maxStringLength,
        maxDepth: file.gateway?.http?.maxDepth ?? DEFAULT_INPUT_LIMITS.maxDepth,
        ...httpTimeouts(file.gateway?.http),
        chatCompletionsEnabled: file.gateway?.http?.endpoints?.chatCompletions?.enabled ?? false,
        sseKeepAliveSeconds: file.gateway?.http?.sseKeepAliveSeconds ?? DEFAULT_SSE_KEEP_ALIVE_SECONDS,
        corsOrigins: file.gateway?.http?.cors?.origins ?? [],
      },
    },
    providers,
    agents,
    defaultAgentId: DEFAULT_AGENT_ID,
    images: {
      maxCount: file.gateway?.http?.images?.maxCount ?? DEFAULT_IMAGES.maxCount,
      maxBytes: file.gateway?.http?.images?.maxBytes ?? DEFAULT_IMAGES.maxBytes,
      allowUrls: file.gateway?.http?.images?.allowUrls ?? DEFAULT_IMAGES.allowUrls,
      fetchTimeoutMs: (file.gateway?.http?.images?.fetchTimeoutSeconds ?? DEFAULT_IMAGES.fetchTimeoutSeconds) * 1000,
    },
    limits: {
      maxConcurrent: defaults?.maxConcurrent ?? DEFAULT_LIMITS.maxConcurrent,
      maxQueued: defaults?.maxQueued ?? DEFAULT_LIMITS.maxQueued,
      providers: providerLimits(providers),
    },
    stateDir: resolveStateDir(env),
    store: {
      database: storeSettings(file.session),
      maxBytes: file.session?.maxStoreBytes,
      retention: retention(file.session?.retention),
      maxStoredReplyBytes: file.session?.maxStoredReplyBytes ?? DEFAULT_MAX_STORED_REPLY_BYTES,
    },
  };
}

/**
 * `gateway.tracing`: on when enabled, or when `OTEL_EXPORTER_OTLP_ENDPOINT` (or its
 * traces variant) is set; spans go to `<endpoint>/v1/traces`, as OpenTelemetry's own
 * variables say when the file does not.
 */
function tracingSettings(file: NonNullable<ConfigFile['gateway']>['tracing'], env: Env): GatewayConfig['gateway']['tracing'] {
  const base = (url: string): string => `${url.replace(/\/+$/u, '')}/v1/traces`;
  const fromEnv = env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'] || (env['OTEL_EXPORTER_OTLP_ENDPOINT'] ? base(env['OTEL_EXPORTER_OTLP_ENDPOINT']) : undefined);
  return {
    enabled: file?.enabled ?? fromEnv !== undefined,
    serviceName: file?.serviceName ?? env['OTEL_SERVICE_NAME'] ?? 'moltbot-gateway',
    tracesUrl: file?.endpoint ? base(file.endpoint) : (fromEnv ?? 'http://localhost:4318/v1/traces'),
  };
}

/** Refuses a gateway that would serve without a secret, with a message saying how to fix it. */
export function assertStartable(config: GatewayConfig): void {
  const { mode, secret } = config.gateway.auth;
  if (secret !== undefined && secret !== '') return;
  const how =
    mode === 'token'
      ? 'set gateway.auth.token in the config, CLAWDBOT_GATEWAY_TOKEN in the environment, or pass --token'
      : 'set gateway.auth.password in the config, CLAWDBOT_GATEWAY_PASSWORD in the environment, or pass --password';
  const where = config.gateway.host === '127.0.0.1' || config.gateway.host === '::1' ? '' : ` on ${config.gateway.host}`;
  throw new ConfigError(`refusing to start${where}: auth mode '${mode}' has no secret; ${how}`);
}
