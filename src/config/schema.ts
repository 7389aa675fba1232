/**
 * JSON Schema (2020-12) of the config file. Every object is closed
 * (`additionalProperties: false`) so a misspelt key stops start-up with its path.
 */
import { stringSchemas } from '../../generated/spec-constants.js';

/** An agent id as the spec has it (`components.schemas.AgentId`). */
const agentId = { type: 'string', pattern: stringSchemas.AgentId.pattern } as const;
const modelRef = { type: 'string', pattern: '^[^/\\s]+/\\S+$', description: '"provider/model"' } as const;

/** When a session's transcript starts afresh under the same key. */
const sessionSettings = {
  type: 'object',
  additionalProperties: false,
  properties: {
    reset: {
      type: 'object',
      additionalProperties: false,
      required: ['mode'],
      properties: {
        mode: { enum: ['daily', 'idle', 'never'] },
        atHour: { type: 'integer', minimum: 0, maximum: 23 },
        idleMinutes: { type: 'number', exclusiveMinimum: 0 },
      },
    },
  },
} as const;

/** How long a transcript is kept after its last update: a duration (`30d`), or `forever`/null. */
const retentionPeriod = { type: ['string', 'null'], pattern: '^([0-9]{1,9}[smhd]|forever)$' } as const;

/** The top-level `session`: the per-agent settings plus the store's own. */
const storeSettings = {
  ...sessionSettings,
  properties: {
    ...sessionSettings.properties,
    retention: {
      type: 'object',
      additionalProperties: false,
      properties: { stateless: retentionPeriod, user: retentionPeriod, explicit: retentionPeriod },
    },
    // 64 KiB: below that SQLite could not even hold its schema and a turn.
    maxStoreBytes: { type: 'integer', minimum: 65536 },
    // Room for the truncation marker and a useful beginning.
    maxStoredReplyBytes: { type: 'integer', minimum: 1024 },
    store: {
      type: 'object',
      required: ['kind'],
      properties: { kind: { enum: ['sqlite', 'postgres'] } },
      oneOf: [
        { additionalProperties: false, properties: { kind: { const: 'sqlite' } } },
        {
          additionalProperties: false,
          required: ['url'],
          properties: {
            kind: { const: 'postgres' },
            // The pattern is not repeated in messages with the value: it may hold a password.
            url: { type: 'string', pattern: '^postgres(ql)?://' },
            poolSize: { type: 'integer', minimum: 1, maximum: 1000 },
            schema: { type: 'string', pattern: '^[a-z_][a-z0-9_]{0,62}$' },
            statementTimeoutMs: { type: 'integer', minimum: 100, maximum: 2_147_483_647 },
          },
        },
      ],
    },
  },
} as const;

/** How much of a session's history is sent to the model. */
const historySettings = {
  type: 'object',
  additionalProperties: false,
  properties: {
    maxTurns: { type: 'integer', minimum: 0 },
    maxTokens: { type: 'integer', minimum: 1 },
  },
} as const;

// Timers hold at most 2^31-1 ms (about 24.8 days); Node turns a longer delay into 1 ms.
const MAX_TIMER_SECONDS = 2_147_483;
const timeoutSeconds = { type: 'number', exclusiveMinimum: 0, maximum: MAX_TIMER_SECONDS } as const;
const maxRetries = { type: 'integer', minimum: 0, maximum: 10 } as const;
/** Caps on what an upstream sends: one SSE line or event, and one reply. */
const maxEventBytes = { type: 'integer', minimum: 1024 } as const;
const maxReplyBytes = { type: 'integer', minimum: 1024 } as const;
/** A provider's own cap (every provider kind takes it); `maxQueued` only with `maxConcurrent` (checked in load.ts). */
const providerLimits = {
  maxConcurrent: { type: 'integer', minimum: 1 },
  maxQueued: { type: 'integer', minimum: 0 },
} as const;

export const configSchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object',
  additionalProperties: false,
  properties: {
    gateway: {
      type: 'object',
      additionalProperties: false,
      properties: {
        port: { type: 'integer', minimum: 0, maximum: 65535 },
        bind: { type: 'string', minLength: 1 },
        shutdownGraceSeconds: { type: 'number', minimum: 0, maximum: MAX_TIMER_SECONDS },
        metrics: {
          type: 'object',
          additionalProperties: false,
          properties: { enabled: { type: 'boolean' }, auth: { enum: ['gateway', 'none'] } },
        },
        tracing: {
          type: 'object',
          additionalProperties: false,
          properties: { enabled: { type: 'boolean' }, serviceName: { type: 'string', minLength: 1 }, endpoint: { type: 'string', pattern: '^https?://' } },
        },
        auth: {
          type: 'object',
          additionalProperties: false,
          properties: {
            mode: { enum: ['token', 'password'] },
            token: { type: 'string' },
            password: { type: 'string' },
            rateLimit: {
              type: 'object',
              additionalProperties: false,
              properties: {
                enabled: { type: 'boolean' },
                maxFailures: { type: 'integer', minimum: 1 },
                windowSeconds: timeoutSeconds,
                blockSeconds: timeoutSeconds,
                exemptLoopback: { type: 'boolean' },
                maxTracked: { type: 'integer', minimum: 1 },
              },
            },
          },
        },
        ws: {
          type: 'object',
          additionalProperties: false,
          properties: {
            maxPayloadBytes: { type: 'integer', minimum: 1024 },
            maxBufferedBytes: { type: 'integer', minimum: 1024 },
            tickIntervalSeconds: { type: 'number', minimum: 0.05, maximum: MAX_TIMER_SECONDS },
            handshakeTimeoutSeconds: { type: 'number', exclusiveMinimum: 0, maximum: MAX_TIMER_SECONDS },
            maxConnections: { type: 'integer', minimum: 1 },
            maxUnauthenticated: { type: 'integer', minimum: 1 },
            maxInFlightPerConnection: { type: 'integer', minimum: 1 },
          },
        },
        http: {
          type: 'object',
          additionalProperties: false,
          properties: {
            maxBodyBytes: { type: 'integer', minimum: 1024 },
            maxStringLength: { type: 'integer', minimum: 1 },
            maxDepth: { type: 'integer', minimum: 2, maximum: 1000 },
            headersTimeoutSeconds: timeoutSeconds,
            requestTimeoutSeconds: timeoutSeconds,
            sseKeepAliveSeconds: { type: 'number', exclusiveMinimum: 0, maximum: MAX_TIMER_SECONDS },
            cors: {
              type: 'object',
              additionalProperties: false,
              required: ['origins'],
              properties: { origins: { type: 'array', items: { type: 'string', pattern: '^(\\*|https?://[^/\\s]+)$' } } },
            },
            images: {
              type: 'object',
              additionalProperties: false,
              properties: {
                maxCount: { type: 'integer', minimum: 0 },
                maxBytes: { type: 'integer', minimum: 1 },
                allowUrls: { type: 'boolean' },
                fetchTimeoutSeconds: timeoutSeconds,
              },
            },
            endpoints: {
              type: 'object',
              additionalProperties: false,
              properties: {
                chatCompletions: {
                  type: 'object',
                  additionalProperties: false,
                  properties: { enabled: { type: 'boolean' } },
                },
              },
            },
          },
        },
      },
    },
    models: {
      type: 'object',
      additionalProperties: false,
      properties: {
        providers: {
          type: 'object',
          propertyNames: { pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$' },
          additionalProperties: {
            type: 'object',
            required: ['api'],
            properties: { api: { enum: ['openai-completions', 'anthropic-messages', 'echo'] } },
            oneOf: [
              {
                additionalProperties: false,
                required: ['baseUrl'],
                properties: {
                  api: { const: 'openai-completions' },
                  baseUrl: { type: 'string', pattern: '^https?://' },
                  apiKey: { type: 'string' },
                  timeoutSeconds,
                  maxRetries,
                  maxEventBytes,
                  maxReplyBytes,
                  ...providerLimits,
                },
              },
              {
                additionalProperties: false,
                properties: {
                  api: { const: 'anthropic-messages' },
                  baseUrl: { type: 'string', pattern: '^https?://' },
                  apiKey: { type: 'string' },
                  maxTokens: { type: 'integer', minimum: 1 },
                  timeoutSeconds,
                  maxRetries,
                  maxEventBytes,
                  maxReplyBytes,
                  ...providerLimits,
                },
              },
              {
                additionalProperties: false,
                properties: { api: { const: 'echo' }, ...providerLimits },
              },
            ],
          },
        },
      },
    },
    session: storeSettings,
    agents: {
      type: 'object',
      additionalProperties: false,
      properties: {
        defaults: {
          type: 'object',
          additionalProperties: false,
          properties: {
            model: modelRef,
            systemPrompt: { type: 'string' },
            history: historySettings,
            timeoutSeconds,
            maxReplyBytes,
            maxConcurrent: { type: 'integer', minimum: 1 },
            maxQueued: { type: 'integer', minimum: 0 },
          },
        },
        list: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['id'],
            properties: {
              id: agentId,
              name: { type: 'string' },
              model: modelRef,
              systemPrompt: { type: 'string' },
              history: historySettings,
              timeoutSeconds,
              maxReplyBytes,
              session: sessionSettings,
            },
          },
        },
      },
    },
  },
} as const;
