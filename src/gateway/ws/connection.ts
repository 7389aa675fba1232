/**
 * One WebSocket connection: the handshake (challenge first, then `connect` within the
 * timeout), then request frames dispatched to the method handlers, and every frame out
 * through `send`, which numbers events (`seq`, per connection, +1 per event sent) and
 * closes a slow consumer (1008) instead of queueing more for it: what is buffered for a
 * client never passes `maxBufferedBytes` plus one frame.
 */
import { randomUUID } from 'node:crypto';
import type { WebSocket } from 'ws';
import { validateRequestFrame, type WsEvent, type WsEventPayloads } from '../../../generated/ws/methods.js';
import type { ErrorShape, RequestFrame } from '../../../generated/ws/types.js';
import type { Logger } from '../../observability/logger.js';
import type { WsMetrics } from '../../observability/metrics.js';
import { handshake, type HandshakeContext, type Peer } from './handshake.js';
import { describeSchemaErrors, toErrorShape } from './protocol-errors.js';

export interface ConnectionOptions {
  maxBufferedBytes: number;
  handshakeTimeoutMs: number;
  maxInFlight: number;
  logger: Logger;
  /** Counts each message received and sent (not control frames). */
  metrics: WsMetrics;
  /** Builds the hello-ok payload for a peer that passed the handshake. */
  hello: (connection: Connection) => unknown;
  /** Handles a request after the handshake; the connection answers with what it resolves to (or the error). */
  dispatch: (connection: Connection, frame: RequestFrame) => Promise<unknown>;
  handshake: Omit<HandshakeContext, 'challengeNonce' | 'now'>;
  /** Told once the connection authenticated, and once it closed. */
  onAuthenticated: (connection: Connection) => void;
  onClosed: (connection: Connection) => void;
  /**
   * The connection's socket (the upgraded one): frames sent within one turn of the event
   * loop are corked into one write. A run ends with three or four frames at once (its last
   * events and the final response); written one by one they cost a system call each,
   * a quarter of the gateway's CPU at 32 clients.
   */
  socket?: { cork(): void; uncork(): void };
}

/** Longest request id echoed back; longer ones are refused (the frame limit bounds them anyway). */
const MAX_ID_LENGTH = 256;

export class Connection {
  readonly id = randomUUID();
  peer: Peer | undefined;
  private seq = 0;
  private inFlight = 0;
  private closed = false;
  private readonly nonce = randomUUID();
  private readonly handshakeTimer: NodeJS.Timeout;
  private readonly closeHooks = new Set<() => void>();

  constructor(
    private readonly ws: WebSocket,
    private readonly options: ConnectionOptions,
  ) {
    ws.on('message', (data, isBinary) => this.onMessage(data as Buffer | Buffer[] | ArrayBuffer, isBinary));
    ws.on('close', () => this.finish());
    // A socket error is followed by 'close'; nothing else to do.
    ws.on('error', () => undefined);
    this.handshakeTimer = setTimeout(() => this.close(1008, 'handshake timeout'), options.handshakeTimeoutMs);
    this.handshakeTimer.unref();
    // The challenge goes first, without seq: clients sign its nonce.
    this.send({ type: 'event', event: 'connect.challenge', payload: { nonce: this.nonce, ts: Date.now() } });
  }

  get open(): boolean {
    return !this.closed;
  }

  /** Runs `hook` when the connection closes (at once if it has). */
  onClose(hook: () => void): void {
    if (this.closed) hook();
    else this.closeHooks.add(hook);
  }

  /** Marks the connection closed and runs the close hooks, once. */
  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.handshakeTimer);
    for (const run of this.closeHooks) run();
    this.closeHooks.clear();
    this.options.onClosed(this);
  }

  /** Forgets a hook added with `onClose`. */
  offClose(hook: () => void): void {
    this.closeHooks.delete(hook);
  }

  /**
   * Sends a frame unless the client is past `maxBufferedBytes`: then a `dropIfSlow`
   * frame is skipped and anything else closes the connection as a slow consumer.
   * Returns whether the frame was queued.
   */
  send(frame: object, dropIfSlow = false): boolean {
    if (this.closed || this.ws.readyState !== this.ws.OPEN) return false;
    if (this.ws.bufferedAmount > this.options.maxBufferedBytes) {
      if (!dropIfSlow) this.slowConsumer();
      return false;
    }
    this.cork();
    this.ws.send(JSON.stringify(frame));
    this.options.metrics.frame('out');
    return true;
  }

  private corked = false;
  /** Whether the held writes wait for one more check phase (`linger`). */
  private lingering = false;

  /** Holds writes until the event loop's check phase, so frames sent meanwhile share one write. */
  private cork(): void {
    const socket = this.options.socket;
    if (this.corked || !socket) return;
    this.corked = true;
    socket.cork();
    setImmediate(this.uncork);
  }

  private readonly uncork = (): void => {
    if (this.lingering) {
      this.lingering = false;
      setImmediate(this.uncork);
      return;
    }
    this.corked = false;
    this.options.socket?.uncork();
  };

  /**
   * Holds what is written now for one more check phase than `send` would. A run's
   * accepted response then goes out with the run's events when its turn ends in the
   * meantime, which a fast agent's does: its start and end are committed in that check
   * phase (the store's group commit), a socket write less per run. A slower run's accepted
   * response waits one turn of the event loop more.
   */
  linger(): void {
    if (this.corked) this.lingering = true;
  }

  /** Sends an event with this connection's next `seq`. */
  event<E extends WsEvent>(event: E, payload: WsEventPayloads[E], dropIfSlow = false): void {
    if (this.closed || (dropIfSlow && this.ws.bufferedAmount > this.options.maxBufferedBytes)) return;
    const seq = this.seq + 1;
    if (this.send({ type: 'event', event, payload, seq }, dropIfSlow)) this.seq = seq;
  }

  respond(id: string, ok: true, payload: unknown): void;
  respond(id: string, ok: false, payload: unknown, error: ErrorShape): void;
  respond(id: string, ok: boolean, payload: unknown, error?: ErrorShape): void {
    // `undefined` members vanish in JSON; clients drop frames with `null` ones.
    this.send({ type: 'res', id, ok, ...(payload === undefined ? {} : { payload }), ...(error ? { error } : {}) });
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.ws.close(code, reason);
    // A client that does not answer the close frame is not waited for.
    const timer = setTimeout(() => this.ws.terminate(), 2000);
    timer.unref();
    this.finish();
  }

  /** Closes without waiting for the client: its buffer is full, a close frame would wait behind it. */
  private slowConsumer(): void {
    this.options.logger.warn({ connId: this.id, bufferedBytes: this.ws.bufferedAmount }, 'websocket slow consumer closed');
    this.ws.close(1008, 'slow consumer');
    // The close frame sits behind the client's unread bytes; do not wait for it.
    const timer = setTimeout(() => this.ws.terminate(), 5000);
    timer.unref();
    this.finish();
  }

  private onMessage(data: Buffer | Buffer[] | ArrayBuffer, _isBinary: boolean): void {
    this.options.metrics.frame('in');
    if (this.closed) return;
    // Binary frames are read as UTF-8 text, as the reference does.
    const text = Buffer.isBuffer(data) ? data.toString('utf8') : Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data).toString('utf8');
    let frame: unknown;
    try {
      frame = JSON.parse(text);
    } catch {
      frame = undefined;
    }
    if (!this.peer) {
      this.onFirstFrame(frame);
      return;
    }
    const id = (frame as { id?: unknown } | undefined)?.id;
    const echoId = typeof id === 'string' && id.length > 0 && id.length <= MAX_ID_LENGTH ? id : 'invalid';
    if (frame === undefined) {
      this.respond(echoId, false, undefined, { code: 'INVALID_REQUEST', message: 'invalid request frame: not JSON' });
      return;
    }
    if (!validateRequestFrame(frame)) {
      this.respond(echoId, false, undefined, { code: 'INVALID_REQUEST', message: `invalid request frame: ${describeSchemaErrors(validateRequestFrame.errors)}` });
      return;
    }
    if (echoId === 'invalid') {
      this.respond(echoId, false, undefined, { code: 'INVALID_REQUEST', message: `invalid request frame: id is longer than ${MAX_ID_LENGTH} characters` });
      return;
    }
    if (this.inFlight >= this.options.maxInFlight) {
      this.respond(frame.id, false, undefined, {
        code: 'UNAVAILABLE',
        message: `too many requests in flight on this connection (at most ${this.options.maxInFlight}); wait for answers before sending more`,
        retryable: true,
      });
      return;
    }
    this.inFlight += 1;
    this.options
      .dispatch(this, frame)
      .then(
        (payload) => this.respond(frame.id, true, payload),
        (err: unknown) => {
          const extra = (err as { extra?: { payload?: unknown } }).extra;
          this.respond(frame.id, false, extra?.payload, toErrorShape(err));
        },
      )
      .finally(() => {
        this.inFlight -= 1;
      });
  }

  private onFirstFrame(frame: unknown): void {
    if (frame === undefined || !validateRequestFrame(frame)) {
      this.close(1008, 'invalid request frame');
      return;
    }
    const result = handshake(frame, Object.assign({}, this.options.handshake, { challengeNonce: this.nonce, now: Date.now() }));
    if (!result.ok) {
      this.respond(frame.id, false, undefined, result.error);
      this.close(result.close.code, result.close.reason);
      return;
    }
    clearTimeout(this.handshakeTimer);
    this.peer = result.peer;
    this.options.onAuthenticated(this);
    this.respond(frame.id, true, this.options.hello(this));
  }
}
