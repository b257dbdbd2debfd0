import type { LagSource } from '../../scaling/types.js';

export type { LagSource };

/** What became of the stream and group being read. */
export type StreamState = 'present' | 'missing-stream' | 'missing-group';

/** How an estimated lag was obtained (only when lagSource is 'estimated'). */
export type LagEstimate =
  /** Entries after the group's last-delivered-id, counted one by one: exact. */
  | 'counted'
  /** More entries than the count limit: the tightest upper bound known. */
  | 'upper-bound'
  /** No group yet: every entry of the stream is waiting for it. */
  | 'stream-length';

export type BacklogErrorCode =
  /** Connection refused, closed, or retries exhausted; or Redis not serving yet (LOADING, BUSY, …). */
  | 'RedisUnavailable'
  /** Redis refused the URL's credentials (WRONGPASS, NOAUTH). */
  | 'AuthenticationFailed'
  /** The ACL user may not run the commands the reader needs (NOPERM). */
  | 'PermissionDenied'
  /** No answer within the read's time limit. */
  | 'Timeout'
  /** The key holds something other than a stream. */
  | 'WrongType'
  /** Redis answered with something this reader does not understand. */
  | 'UnexpectedReply'
  /** Redis was reached but refused a command (ERR, READONLY, NOSCRIPT, …). */
  | 'CommandFailed';

export interface BacklogReadError {
  code: BacklogErrorCode;
  message: string;
}

export interface ConsumerInfo {
  name: string;
  /** Entries delivered to this consumer and not yet acknowledged. */
  pending: number;
  /** Since the consumer's last attempted interaction. */
  idleMs: number;
  /** Since its last successful interaction (Redis >= 7.2 only). */
  inactiveMs?: number | undefined;
}

/** A successful reading: the numbers are known, exactly or as a stated estimate. */
export interface BacklogKnown {
  readOk: true;
  lag: number;
  pending: number;
  /** lag + pending. */
  backlog: number;
  lagSource: Exclude<LagSource, 'unknown'>;
  lagEstimate?: LagEstimate | undefined;
  streamState: StreamState;
  /** XINFO STREAM entries-added: a monotonic counter for the arrival rate (Redis >= 7). */
  entriesAdded?: number | undefined;
  /** XINFO GROUPS entries-read: entries delivered to the group so far, for its processing rate (Redis >= 7). */
  entriesRead?: number | undefined;
  /** XLEN of the stream. */
  length?: number | undefined;
  consumers?: ConsumerInfo[] | undefined;
  error?: undefined;
}

/** A failed reading: nothing is known, and nothing may be read as zero. */
export interface BacklogUnreadable {
  readOk: false;
  lag: undefined;
  pending: undefined;
  backlog: undefined;
  lagSource: 'unknown';
  error: BacklogReadError;
}

/** Shaped so that `{ ...reading, currentReplicas }` is the scaler's metrics. */
export type BacklogReading = BacklogKnown | BacklogUnreadable;

/** Where the operator and the local mode read a pool's backlog. Never throws. */
export interface BacklogSource {
  read(stream: string, group: string): Promise<BacklogReading>;
}

export type ConsumersReading =
  | { readOk: true; streamState: StreamState; consumers: ConsumerInfo[] }
  | { readOk: false; error: BacklogReadError };

export type RemoveConsumerResult =
  | { outcome: 'removed' }
  /** The consumer still holds pending entries; it was left alone. */
  | { outcome: 'refused'; pending: number }
  /** No such consumer (or group, or stream): nothing to do. */
  | { outcome: 'not-found' }
  | { outcome: 'failed'; error: BacklogReadError };

/** Per-consumer view and cleanup, used to mark idle pods and forget deleted ones. Never throws. */
export interface ConsumerAdmin {
  consumers(stream: string, group: string): Promise<ConsumersReading>;
  /** Deletes the consumer only when it has nothing pending, atomically. */
  removeConsumer(stream: string, group: string, name: string): Promise<RemoveConsumerResult>;
}
