/**
 * The session store interface. A session key names a sequence of transcripts (a reset
 * starts a new one; old ones stay readable). A turn is written twice, each write one
 * transaction: `beginTurn` records the new input as `running`, its `finish` records the
 * reply and how the run ended. A store never holds half a turn. A running turn records
 * the instance (per-boot process id, `instance-liveness.ts`) running it; a turn whose
 * instance is gone (a crash, SIGKILL) is marked `interrupted` when the store next opens
 * (`StoreEvents.onInterrupted` hears of it).
 * Nothing here assumes one process: a PostgreSQL store for several replicas implements
 * the same calls.
 */
import type { FinishReason, TranscriptMessage, Usage } from '../domain/messages.js';

export type { TranscriptMessage };

/** How a turn ended; `running` until it does. Only `ok` turns feed the model's history. */
export type TurnStatus = 'running' | 'ok' | 'error' | 'aborted' | 'timeout' | 'interrupted';

/** A running turn a store marked `interrupted` because the process running it is gone. */
export interface InterruptedTurn {
  agentId: string;
  sessionId: string;
  seq: number;
}

/**
 * What a store tells its opener, given when it is opened. `onInterrupted` hears of turns
 * marked `interrupted` (at open, when a turn finds one in its session, in a sweep), each
 * turn once, to one listening store, after the marking is committed. A store opened
 * without a listener (`moltbot sessions`) notes its markings in the database, and the next
 * store with one takes them (SQLite: at its open; PostgreSQL: at its next sweep).
 * Listeners must be cheap and must not throw.
 */
export interface StoreEvents {
  onInterrupted?: (turns: readonly InterruptedTurn[]) => void;
}

/** How the key was chosen: a random per-request key, from `user`, or given explicitly. */
export type SessionKind = 'stateless' | 'user' | 'explicit';

/**
 * One transcript of a session. A session is the pair (agent id, key): the same key under
 * two agents names two sessions that never share a transcript.
 */
export interface SessionInfo {
  /** The transcript's id; a reset gives the key a new one. */
  id: string;
  key: string;
  agentId: string;
  kind: SessionKind;
  createdAt: number;
  updatedAt: number;
  turns: number;
  lastStatus: TurnStatus | null;
}

/** One request/reply exchange. */
export interface Turn {
  sessionId: string;
  sessionKey: string;
  agentId: string;
  /** 1-based position in its transcript. */
  seq: number;
  /** The messages this turn added before the reply (the new user/tool messages). */
  input: TranscriptMessage[];
  /** The assistant reply; partial when the run did not finish, absent when nothing came. */
  reply?: TranscriptMessage;
  /**
   * Set when the reply was larger than the store keeps (`session.maxStoredReplyBytes`):
   * `reply` holds its beginning and a marker, and this says how large it was.
   */
  replyTruncated?: { originalBytes: number };
  /** Per-request system/developer text, kept for audit; never replayed. */
  instructions?: string;
  status: TurnStatus;
  finishReason?: FinishReason;
  usage?: Usage;
  /** For turns that did not end `ok`: the error's type, code and message. */
  error?: { type: string; code: string | null; message: string };
  startedAt: number;
  endedAt?: number;
}

export interface BeginTurn {
  session: { id: string; key: string; agentId: string; kind: SessionKind };
  /** True to create the transcript `session.id` (first turn, or after a reset). */
  newTranscript: boolean;
  /**
   * What the turn's history was read from: the session's current transcript then
   * (undefined: it had none), its turn count and its last turn's status. The turn begins
   * only if the session is still so and no other live instance is running a turn in it;
   * else `beginTurn` rejects with `SessionConflict` and nothing is written. The status
   * matters: history read while another process's turn was running lacks that turn, and
   * its ending changes no count. Checked when given (the core always gives it). Not
   * checked for a `stateless` session, whose key was minted for this turn.
   */
  expected: { sessionId: string | undefined; turns: number; lastStatus?: TurnStatus | null };
  input: TranscriptMessage[];
  instructions?: string;
  startedAt: number;
  /**
   * The idempotency key the turn runs under, claimed in the same write as its start (no
   * write of its own): when the key is taken (used within the window by a request still
   * running on a live instance, or completed, or with another fingerprint), `started`
   * rejects with `IdempotencyKeyTaken` and nothing is written. The turn's `finish`
   * settles it in the same write: an `ok` turn completes the key (repeats get this turn
   * and `payload`), any other outcome frees it (a retry runs again).
   */
  idempotency?: TurnIdempotency;
}

/** The idempotency key a turn claims with its start (`BeginTurn.idempotency`); its window starts at the turn's `startedAt`. */
export interface TurnIdempotency {
  /** Which key space: the transport and operation (e.g. `http:chat.completions`). */
  scope: string;
  key: string;
  /** A digest of the request: the same key with another fingerprint is a reuse. */
  fingerprint: string;
  /** What the transport needs to answer a repeat (its response id and the like), JSON. */
  payload?: unknown;
}

/**
 * `beginTurn` refused the turn's idempotency key (nothing was written): another request
 * holds it (`running`), completed it (`done`) or used it for another request (`mismatch`).
 */
export class IdempotencyKeyTaken extends Error {
  constructor(readonly state: 'running' | 'done' | 'mismatch') {
    super(`the idempotency key is taken (${state})`);
    this.name = 'IdempotencyKeyTaken';
  }
}

export interface TurnOutcome {
  status: Exclude<TurnStatus, 'running' | 'interrupted'>;
  reply?: TranscriptMessage;
  replyTruncated?: Turn['replyTruncated'];
  finishReason?: FinishReason;
  usage?: Usage;
  error?: Turn['error'];
  endedAt: number;
}

/**
 * A position in `listSessions`'s order (most recently updated first, then id
 * descending): a page after it starts with the next transcript. Built from the last
 * transcript of the previous page, so it stays valid however many are added meanwhile.
 */
export interface SessionCursor {
  updatedAt: number;
  id: string;
}

/** A page of `listSessions`. */
export interface ListSessionsOptions {
  /** Only this agent's transcripts. */
  agentId?: string;
  /** At most this many (every one when absent). */
  limit?: number;
  /** Only transcripts after this one in the order. */
  after?: SessionCursor;
}

/** Which transcripts `prune` deletes. */
export interface PruneOptions {
  /**
   * Per kind, the age (ms since the transcript's last update) past which it is deleted;
   * kinds not listed are kept. `0` deletes every transcript of that kind.
   */
  olderThan: Partial<Record<SessionKind, number>>;
  /** Only this agent's transcripts. */
  agentId?: string;
  /** Count what would be deleted, delete nothing. */
  dryRun?: boolean;
  /** Stops between batches (what is deleted by then stays deleted). */
  signal?: AbortSignal;
  /** The clock ages are measured against. */
  now?: number;
}

export interface PruneResult {
  /** Transcripts deleted (or, on a dry run, that would be). */
  sessions: number;
  turns: number;
  /** Bytes the database file gave back to the file system. */
  reclaimedBytes: number;
}

/** Identifies a begun turn. */
export interface TurnRef {
  sessionId: string;
  seq: number;
}

/** A turn being written: its start, and the one call that records how it ended. */
export interface TurnWrite {
  /**
   * Resolves once the start is committed; rejects with `SessionConflict` (nothing was
   * written) or the write's failure (a full store: `storage_full`).
   */
  readonly started: Promise<TurnRef>;
  /**
   * Records how the turn ended, atomically; call it at most once. It may be called before
   * `started` settles: a store may then write start and outcome together, so the turn
   * never shows as `running`. Rejects if the start failed.
   */
  finish(outcome: TurnOutcome): Promise<void>;
}

/**
 * The session changed since the turn read its history (another process wrote a turn, or
 * reset it), or another live process is running a turn in it. Nothing was written: read
 * the history again (after `runningElsewhere` turns false) and begin again.
 */
export class SessionConflict extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SessionConflict';
  }
}

/** Whether the store answers now: `unavailable` while its database cannot be reached. */
export type StoreHealth = 'ok' | 'unavailable';

/** How long an idempotency key is remembered after it was first used. */
export const IDEMPOTENCY_WINDOW_MS = 10 * 60_000;

/**
 * A request carrying an idempotency key, as any transport sends it (HTTP
 * `Idempotency-Key`, WebSocket `idempotencyKey`).
 */
export interface IdempotencyRequest {
  /** Which key space: the transport and operation (e.g. `http:chat.completions`). */
  scope: string;
  key: string;
  /** A digest of the request: the same key with another fingerprint is a reuse. */
  fingerprint: string;
  now: number;
}

/** What a finished request left for its repeats: its turn, and what the transport needs to answer again. */
export interface IdempotencyResult {
  turn?: TurnRef;
  payload?: unknown;
}

/**
 * What `lookupIdempotencyKey` found: `free` (never used, or the last use expired or its
 * instance died: a turn may claim it with its start), `running` (the first use has not
 * finished), `done` (answer with its result), `mismatch` (the key was used for a
 * different request within the window).
 */
export type IdempotencyState =
  | { state: 'free' }
  | { state: 'running' }
  | { state: 'done'; result: IdempotencyResult }
  | { state: 'mismatch' };

export interface SessionStore {
  /** The current (latest) transcript of the agent's session `key`, if it has one. */
  currentSession(agentId: string, key: string): Promise<SessionInfo | undefined>;
  /** Up to `limit` most recent `ok` turns of a transcript, oldest first. */
  recentTurns(sessionId: string, limit: number): Promise<Turn[]>;
  /**
   * Records a turn's input as `running` (creating the transcript when asked), atomically,
   * if the session is still as `begin.expected` says; else `started` rejects with
   * `SessionConflict`. The returned write finishes the turn.
   */
  beginTurn(begin: BeginTurn): TurnWrite;
  /**
   * Whether another live instance (process) is running a turn in the current transcript
   * of the agent's session `key`: a turn that must wait for it polls this.
   */
  runningElsewhere(agentId: string, key: string): Promise<boolean>;
  /** Every turn of the current transcript of the agent's session `key`, oldest first (empty if unknown). */
  loadTurns(agentId: string, key: string): Promise<Turn[]>;
  /**
   * Transcripts, most recently updated first (ties: id descending), a page at a time:
   * served by an index on that order, so a page costs the same on any store size.
   */
  listSessions(options?: ListSessionsOptions): Promise<SessionInfo[]>;
  /**
   * Every transcript under `key` with all its turns: every agent's (grouped by agent id,
   * in order), or one agent's with `agentId`; oldest first within an agent.
   */
  sessionHistory(key: string, filter?: { agentId?: string }): Promise<{ session: SessionInfo; turns: Turn[] }[]>;
  /**
   * Starts a new, empty transcript `session.id` under the agent's session `session.key`
   * (a reset asked for by a client): the session's next turn continues it, with no
   * history. Earlier transcripts stay readable (`sessionHistory`). Returns the new one.
   */
  resetSession(session: { id: string; key: string; agentId: string; kind: SessionKind }, at: number): Promise<SessionInfo>;
  /**
   * Deletes every transcript of the agent's session `key` with their turns; resolves
   * false when it had none. Rejects with `SessionConflict` (nothing deleted) while another
   * live instance is running a turn in it.
   */
  deleteSession(agentId: string, key: string): Promise<boolean>;
  /**
   * Deletes old transcripts (see `PruneOptions`) in small transactions, letting other
   * work run between them, never one with a running turn; then gives the freed space
   * back to the file system.
   */
  prune(options: PruneOptions): Promise<PruneResult>;
  /** One turn by its ref (a repeated idempotent request answers from it). */
  getTurn(ref: TurnRef): Promise<Turn | undefined>;
  /**
   * What became of `request.key` in its scope, as every process on the store sees it
   * (a read: nothing is written). Keys are claimed by the turn that uses them
   * (`BeginTurn.idempotency`), which decides races; they are remembered for
   * `IDEMPOTENCY_WINDOW_MS` after that turn started, then forgotten.
   */
  lookupIdempotencyKey(request: IdempotencyRequest): Promise<IdempotencyState>;
  /** Whether the store can be reached now (no I/O: what the last attempts found). */
  health(): StoreHealth;
  /** Finishes pending writes and releases the store; further calls fail. */
  close(): Promise<void>;
}
