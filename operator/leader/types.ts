/**
 * Leader election on a coordination.k8s.io/v1 Lease: the types shared by the
 * elector, the pure lease rules and the Kubernetes adapter.
 */

/** Where an elector is in its life. */
export type LeaderState =
  /** Constructed, `start()` not called yet. */
  | 'idle'
  /** Trying to acquire the lease (also after losing it). */
  | 'candidate'
  /** Holds the lease and renews it; the work runs. */
  | 'leading'
  /** `stop()` was called; the elector does nothing more. */
  | 'stopped';

/** The fields of a Lease's spec that leader election reads and writes. */
export interface LeaseRecord {
  /** Who holds the lease; '' when nobody does (released). */
  holderIdentity: string;
  /** How long others wait, after they last saw the record change, before taking over. */
  leaseDurationSeconds: number;
  /** MicroTime (RFC 3339, six fractional digits) when the holder acquired it. */
  acquireTime?: string | undefined;
  /** MicroTime when the holder last renewed it. Informative only: nobody trusts another's clock. */
  renewTime?: string | undefined;
  /** How many times the lease changed hands. */
  leaseTransitions: number;
}

/** A Lease as read from (or written to) the server. */
export interface StoredLease {
  /** For optimistic concurrency: a replace carries it and fails with a conflict when stale. */
  resourceVersion: string;
  record: LeaseRecord;
  /**
   * The adapter's own copy of the whole object, handed back to it on
   * replace so fields the elector does not know (labels, annotations, other
   * spec fields) survive. The elector never looks inside.
   */
  readonly object?: unknown;
}

/** Options every LeaseClient call takes. */
export interface LeaseCallOptions {
  /** Aborted when the caller stops waiting; the call should give up then. */
  signal?: AbortSignal | undefined;
}

/**
 * The narrow boundary to the store of one Lease (one namespace and name).
 * `get` resolves undefined when the Lease does not exist; `create` and
 * `replace` reject with {@link LeaseConflictError} when someone else wrote
 * first (already exists, or a stale resourceVersion). Any other rejection
 * is a failed call that may be retried.
 */
export interface LeaseClient {
  /** A human-readable name of the lease, e.g. `namespace/name`, for logs. */
  readonly description: string;
  get(options?: LeaseCallOptions): Promise<StoredLease | undefined>;
  create(record: LeaseRecord, options?: LeaseCallOptions): Promise<StoredLease>;
  replace(
    current: StoredLease,
    record: LeaseRecord,
    options?: LeaseCallOptions,
  ): Promise<StoredLease>;
}

/** Someone else wrote the Lease first (HTTP 409). */
export class LeaseConflictError extends Error {
  override readonly name = 'LeaseConflictError';
}

/**
 * Time as the elector sees it. `now()` measures durations and must never go
 * back (a monotonic clock); `date()` is the wall clock, written into the
 * Lease's MicroTime fields for people to read.
 */
export interface Clock {
  /** Milliseconds on a monotonic clock; only differences mean anything. */
  now(): number;
  /** Wall-clock time, for acquireTime and renewTime. */
  date(): Date;
  /** Resolves after `ms`, or early (without rejecting) once `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** What the elector logs through; a pino Logger fits. */
export interface LeaderLogger {
  debug(object: object, message: string): void;
  info(object: object, message: string): void;
  warn(object: object, message: string): void;
  error(object: object, message: string): void;
}
