/**
 * The core's observer as the gateway runs it: metrics (when on) and log lines, one per
 * recorded run and one per upstream retry, under the request's id, and one per agent
 * for runs a store found cut short by a dead process.
 */
import type { CoreObserver } from '../domain/telemetry.js';
import type { Logger } from './logger.js';
import type { GatewayMetrics } from './metrics.js';

const noop = (): void => undefined;

export function createCoreObserver(logger: Logger, metrics: GatewayMetrics | undefined): CoreObserver {
  const counted = metrics?.core;
  return {
    queued: counted?.queued ?? noop,
    started: counted?.started ?? noop,
    left: counted?.left ?? noop,
    rejected: counted?.rejected ?? noop,
    storeWrite: counted?.storeWrite ?? noop,
    upstreamAttempt: counted?.upstreamAttempt ?? noop,
    recorded(turn, outcome) {
      counted?.recorded(turn, outcome);
      if (!logger.isLevelEnabled('info')) return;
      logger.info(
        {
          requestId: turn.requestId,
          agent: turn.agentId,
          provider: turn.provider,
          status: outcome.status,
          ...(outcome.code ? { code: outcome.code } : {}),
          ...(outcome.usage ? { promptTokens: outcome.usage.promptTokens, completionTokens: outcome.usage.completionTokens } : {}),
          ms: Math.round(outcome.seconds * 1000),
        },
        'run ended',
      );
    },
    interrupted(agentId, count) {
      counted?.interrupted(agentId, count);
      logger.warn({ agent: agentId, status: 'interrupted', runs: count }, 'runs interrupted: the process running them died');
    },
    upstreamRetry(turn, retry) {
      counted?.upstreamRetry(turn, retry);
      logger.warn({ requestId: turn.requestId, agent: turn.agentId, provider: turn.provider, retry: retry.retry + 1, after: retry.status, waitMs: Math.round(retry.waitMs) }, 'upstream retry');
    },
  };
}
