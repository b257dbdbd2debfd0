import type { Redis } from 'ioredis';
import { withTimeout } from '../../core/timing.js';
import { REMOVE_CONSUMER } from '../scripts.js';
import { BacklogError, isNoGroup, isNoSuchKey, toReadError } from './errors.js';
import { lagFromCount, lagUpperBound, reportedLag } from './estimate.js';
import type {
  BacklogKnown,
  BacklogReadError,
  BacklogReading,
  BacklogSource,
  BacklogUnreadable,
  ConsumerAdmin,
  ConsumerInfo,
  ConsumersReading,
  RemoveConsumerResult,
} from './types.js';
import {
  type GroupInfo,
  parseConsumers,
  parseGroups,
  parseStream,
  type StreamInfo,
} from './xinfo.js';

export interface RedisBacklogSourceOptions {
  /** Longest a call may take before it counts as failed (default 5000 ms). */
  timeoutMs?: number;
  /** Most entries XRANGE counts when estimating a nil lag (default 1000). */
  countLimit?: number;
  /** Also read XINFO CONSUMERS with each backlog reading (default false). */
  includeConsumers?: boolean;
}

type Reply = [error: Error | null, result: unknown];

export function unreadable(error: BacklogReadError): BacklogUnreadable {
  return {
    readOk: false,
    lag: undefined,
    pending: undefined,
    backlog: undefined,
    lagSource: 'unknown',
    error,
  };
}

/**
 * A stream that does not exist holds no notices: workers create it (with
 * their group, from id 0) when they start, and lost notices are republished
 * by the outbox relay into the recreated stream. So a missing stream is a
 * known backlog of zero, reported by XINFO itself.
 */
function missingStream(includeConsumers: boolean): BacklogKnown {
  return {
    readOk: true,
    lag: 0,
    pending: 0,
    backlog: 0,
    lagSource: 'xinfo',
    streamState: 'missing-stream',
    consumers: includeConsumers ? [] : undefined,
  };
}

/** Backlog of a Redis stream's consumer group, read with XINFO; never throws. */
export class RedisBacklogSource implements BacklogSource, ConsumerAdmin {
  private readonly timeoutMs: number;
  private readonly countLimit: number;
  private readonly includeConsumers: boolean;
  /** Why the client last failed to connect; cleared once it is ready. */
  private lastConnectionError: Error | undefined;

  constructor(
    private readonly redis: Redis,
    options: RedisBacklogSourceOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.countLimit = Math.max(1, options.countLimit ?? 1000);
    this.includeConsumers = options.includeConsumers ?? false;
    redis.on('error', (error: Error) => {
      this.lastConnectionError = error;
    });
    redis.on('close', () => {
      // A server or proxy that hangs up without an error leaves only this trace.
      this.lastConnectionError ??= new Error('the server closed the connection');
    });
    redis.on('ready', () => {
      this.lastConnectionError = undefined;
    });
  }

  async read(stream: string, group: string): Promise<BacklogReading> {
    try {
      return await withTimeout(
        this.readOrThrow(stream, group),
        this.timeoutMs,
        timedOut(`reading ${stream}`, this.timeoutMs),
      );
    } catch (error) {
      return unreadable(this.describe(error));
    }
  }

  async consumers(stream: string, group: string): Promise<ConsumersReading> {
    try {
      const reply = await withTimeout(
        this.redis.xinfo('CONSUMERS', stream, group),
        this.timeoutMs,
        timedOut(`reading consumers of ${stream}`, this.timeoutMs),
      );
      return { readOk: true, streamState: 'present', consumers: parseConsumers(reply) };
    } catch (error) {
      if (isNoSuchKey(error)) return { readOk: true, streamState: 'missing-stream', consumers: [] };
      if (isNoGroup(error)) return { readOk: true, streamState: 'missing-group', consumers: [] };
      return { readOk: false, error: this.describe(error) };
    }
  }

  async removeConsumer(stream: string, group: string, name: string): Promise<RemoveConsumerResult> {
    try {
      // EVAL rather than a registered command: cleanup is rare and the
      // script is short, and the caller's client stays unmodified.
      const reply = await withTimeout(
        this.redis.eval(REMOVE_CONSUMER, 1, stream, group, name),
        this.timeoutMs,
        timedOut(`removing consumer ${name} of ${stream}`, this.timeoutMs),
      );
      return removeResult(reply);
    } catch (error) {
      return { outcome: 'failed', error: this.describe(error) };
    }
  }

  private describe(error: unknown): BacklogReadError {
    return toReadError(error, { status: this.redis.status, lastError: this.lastConnectionError });
  }

  private async readOrThrow(stream: string, group: string): Promise<BacklogKnown> {
    // One transaction, so the group's lag and the stream's length describe the same moment.
    const tx = this.redis.multi().xinfo('GROUPS', stream).xinfo('STREAM', stream);
    if (this.includeConsumers) tx.xinfo('CONSUMERS', stream, group);
    const replies = (await tx.exec()) as Reply[] | null;
    if (replies === null) throw new BacklogError('UnexpectedReply', 'XINFO transaction discarded');
    const [groupsReply, streamReply, consumersReply] = replies;
    if (isNoSuchKey(groupsReply?.[0])) return missingStream(this.includeConsumers);
    const groups = parseGroups(resultOf(groupsReply));
    const info = parseStream(resultOf(streamReply));
    const consumers = this.includeConsumers ? consumersOf(consumersReply) : undefined;
    const found = groups.find((g) => g.name === group);
    const reading = found ? await this.groupBacklog(stream, found, info) : missingGroup(info);
    return { ...reading, entriesAdded: info.entriesAdded, length: info.length, consumers };
  }

  private async groupBacklog(
    stream: string,
    group: GroupInfo,
    info: StreamInfo,
  ): Promise<BacklogKnown> {
    const known = (lag: number, source: 'xinfo' | 'estimated'): BacklogKnown => ({
      readOk: true,
      lag,
      pending: group.pending,
      backlog: lag + group.pending,
      lagSource: source,
      streamState: 'present',
      entriesRead: group.entriesRead,
    });
    const lag = reportedLag(group, info);
    if (lag !== undefined) return known(lag, 'xinfo');
    // Redis lost count (entries deleted after the group's position, or
    // trimmed): count what lies after last-delivered-id, up to a limit.
    const after = await this.redis.xrange(
      stream,
      `(${group.lastDeliveredId}`,
      '+',
      'COUNT',
      this.countLimit,
    );
    const estimate = lagFromCount(after.length, this.countLimit, lagUpperBound(group, info));
    return { ...known(estimate.lag, 'estimated'), lagEstimate: estimate.how };
  }
}

/**
 * The workers create their group from id 0, so until it exists every entry
 * of the stream is waiting for it; this wakes a pool whose group is gone.
 */
function missingGroup(info: StreamInfo): BacklogKnown {
  return {
    readOk: true,
    lag: info.length,
    pending: 0,
    backlog: info.length,
    lagSource: 'estimated',
    lagEstimate: 'stream-length',
    streamState: 'missing-group',
  };
}

function resultOf(reply: Reply | undefined): unknown {
  if (reply === undefined)
    throw new BacklogError('UnexpectedReply', 'XINFO transaction: missing reply');
  if (reply[0]) throw reply[0];
  return reply[1];
}

function consumersOf(reply: Reply | undefined): ConsumerInfo[] {
  if (reply?.[0] && isNoGroup(reply[0])) return [];
  return parseConsumers(resultOf(reply));
}

function removeResult(reply: unknown): RemoveConsumerResult {
  if (Array.isArray(reply)) {
    const [status, pending] = reply;
    if (status === 'removed') return { outcome: 'removed' };
    if (status === 'not-found') return { outcome: 'not-found' };
    if (status === 'refused' && typeof pending === 'number') return { outcome: 'refused', pending };
  }
  throw new BacklogError(
    'UnexpectedReply',
    `remove-consumer: unexpected reply ${JSON.stringify(reply)}`,
  );
}

/** A Timeout after `ms`; the read itself is left to finish or fail on its own. */
function timedOut(what: string, ms: number): () => BacklogError {
  return () => new BacklogError('Timeout', `${what}: no answer within ${ms} ms`);
}
