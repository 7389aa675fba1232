/**
 * Set-ups for the feature tests (test/features): a gateway with agent `main` on echo and
 * agent `beta` on a real fake OpenAI-compatible upstream, sessions that never reset, no
 * provider retries, and the `gateway.http` settings a test needs (CORS, keep-alive,
 * images, endpoint switch).
 */
import type { ConfigFile } from '../../src/config/types.js';
import { startFakeUpstream, type FakeUpstream, type UpstreamBehaviour } from './fake-upstream.js';
import { TEST_TOKEN, startGateway, type TestGateway } from './gateway.js';

export const MAIN_PROMPT = 'You are main.';
export const BETA_PROMPT = 'You are beta, keeper of the zebra-42 secret.';
export const BETA_MODEL = 'gpt-feature-model';

type HttpSettings = NonNullable<NonNullable<ConfigFile['gateway']>['http']>;

export interface FeatureOptions {
  /** Merged over `gateway.http` (endpoint enabled by default). */
  http?: Omit<HttpSettings, 'endpoints'>;
  /** `gateway.http.endpoints.chatCompletions.enabled`; true unless given. */
  enabled?: boolean;
  /** Agent `beta`'s `timeoutSeconds`. */
  betaTimeoutSeconds?: number;
  /** The fake upstream's behaviour from the start. */
  upstream?: UpstreamBehaviour;
}

/** The config file: token auth, `local` provider on the upstream, `main` (echo) and `beta` (local). */
export function featureConfig(upstreamBaseUrl: string, options: FeatureOptions = {}): ConfigFile {
  return {
    gateway: {
      auth: { mode: 'token', token: TEST_TOKEN },
      http: { ...options.http, endpoints: { chatCompletions: { enabled: options.enabled ?? true } } },
    },
    session: { reset: { mode: 'never' } },
    models: { providers: { local: { api: 'openai-completions', baseUrl: upstreamBaseUrl, maxRetries: 0 } } },
    agents: {
      list: [
        { id: 'main', model: 'echo/echo', systemPrompt: MAIN_PROMPT },
        {
          id: 'beta',
          model: `local/${BETA_MODEL}`,
          systemPrompt: BETA_PROMPT,
          ...(options.betaTimeoutSeconds === undefined ? {} : { timeoutSeconds: options.betaTimeoutSeconds }),
        },
      ],
    },
  };
}

export interface FeatureSetup {
  upstream: FakeUpstream;
  gateway: TestGateway;
  close(): Promise<void>;
}

export async function startFeatureGateway(options: FeatureOptions = {}): Promise<FeatureSetup> {
  const upstream = await startFakeUpstream(options.upstream);
  let gateway: TestGateway;
  try {
    gateway = await startGateway(featureConfig(upstream.baseUrl, options));
  } catch (err) {
    await upstream.close();
    throw err;
  }
  return {
    upstream,
    gateway,
    async close() {
      await gateway.close();
      await upstream.close();
    },
  };
}

/** An authenticated request to the gateway (GET unless `init.method` says otherwise). */
export function authed(gateway: { url: string; token: string }, path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (!headers.has('authorization')) headers.set('authorization', `Bearer ${gateway.token}`);
  return fetch(`${gateway.url}${path}`, { ...init, headers });
}

/** The session key the gateway reported for a response. */
export function sessionKeyOf(res: Response): string {
  const key = res.headers.get('x-moltbot-session-key');
  if (!key) throw new Error(`response ${res.status} has no x-moltbot-session-key header`);
  return key;
}
