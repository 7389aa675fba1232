/**
 * How a provider's failures reach the client, the same for every adapter: the run's own
 * abort is `RunAbortedError`; an event over the cap is 502 `upstream_event_too_large`; a
 * timeout 504 `upstream_timeout`; an unreachable upstream 502 `upstream_unavailable`,
 * saying what went wrong but not where; an error answer (or an error event mid-stream)
 * 502 `upstream_error` with its words redacted and the wait it asked for; anything else
 * 502 `upstream_error` "failed mid-reply". Messages never carry the API key or the
 * upstream's address; the log line (`logDetail`) keeps the address. Each adapter only
 * says which of its errors is which (`classify`).
 */
import { RunAbortedError, upstreamError, upstreamTimeout, type GatewayError } from '../domain/errors.js';
import { EventTooLargeError } from './event-cap.js';
import { connectionFailure, createRedactor, errorChain } from './redact.js';

/** An adapter's error, classified. */
export type UpstreamFailure =
  | { kind: 'aborted' }
  | { kind: 'timeout' }
  /** Not reached, or the connection broke before an answer; `cause` is the network error. */
  | { kind: 'unreachable'; cause: unknown }
  /**
   * An error answer with its `status`, or an error event inside a stream that had started
   * (no status); `detail` is what the upstream said, `logText` what the log keeps instead
   * of the error's own chain.
   */
  | { kind: 'answered'; status: number | undefined; detail: string; retryAfterMs: number | undefined; logText?: string };

export interface FailureOptions {
  providerId: string;
  /** Where the upstream is: redacted from messages, kept in the log. */
  baseUrl: string;
  apiKey: string | undefined;
  timeoutSeconds: number;
  /** Which failure an error of this adapter is; undefined for anything else. */
  classify(err: unknown): UpstreamFailure | undefined;
}

export interface UpstreamFailures {
  /** Any error of a call to the upstream as what the run throws. */
  toRunError(err: unknown, signal: AbortSignal): Error;
  /** 502 `upstream_incomplete`: the stream ended `how`. */
  incomplete(how: string): GatewayError;
}

/** Whole seconds of an asked wait, if the upstream asked for one. */
function seconds(ms: number | undefined): number | undefined {
  return ms !== undefined && Number.isFinite(ms) ? Math.max(0, Math.ceil(ms / 1000)) : undefined;
}

export function createUpstreamFailures(options: FailureOptions): UpstreamFailures {
  const where = `The model provider '${options.providerId}'`;
  const redact = createRedactor({ apiKey: options.apiKey, baseUrl: options.baseUrl });
  const logDetail = (what: unknown): string => `${options.baseUrl}: ${redact.forLogs(errorChain(what)).slice(0, 2000)}`;

  return {
    toRunError(err, signal) {
      if (signal.aborted || err instanceof RunAbortedError) return new RunAbortedError();
      if (err instanceof EventTooLargeError) {
        return upstreamError(`${where} sent an event longer than ${err.limit} bytes (maxEventBytes); the run was ended.`, 'upstream_event_too_large', { cause: err, logDetail: logDetail(err) });
      }
      const failure = options.classify(err);
      switch (failure?.kind) {
        case 'aborted':
          return new RunAbortedError();
        case 'timeout':
          return upstreamTimeout(`${where} did not answer within ${options.timeoutSeconds} s.`, err, logDetail(err));
        case 'unreachable':
          // Its address is the operator's business: the client learns what went wrong, not where.
          return upstreamError(`${where} could not be reached: ${connectionFailure(failure.cause)}.`, 'upstream_unavailable', { cause: err, logDetail: logDetail(err) });
        case 'answered': {
          const what = failure.status === undefined ? 'sent an error mid-reply' : `answered ${failure.status}`;
          // The provider asked to wait: the client is told the same, in whole seconds.
          return upstreamError(`${where} ${what}: ${redact.forClients(failure.detail)}`, 'upstream_error', {
            cause: err,
            retryAfterSeconds: seconds(failure.retryAfterMs),
            logDetail: logDetail(failure.logText ?? err),
          });
        }
      }
      // A broken connection (it has a code) is described; what the upstream said is redacted.
      const detail = !(err instanceof Error) ? 'unknown failure' : (err as NodeJS.ErrnoException).code ? connectionFailure(err) : redact.forClients(err.message);
      return upstreamError(`${where} failed mid-reply: ${detail}`, 'upstream_error', { cause: err, logDetail: logDetail(err) });
    },
    incomplete(how) {
      return upstreamError(`${where} ${how}`, 'upstream_incomplete');
    },
  };
}
