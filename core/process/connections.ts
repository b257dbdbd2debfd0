import { Redis } from 'ioredis';
import knexFactory, { type Knex } from 'knex';
import type { Logger } from 'pino';
import { logText } from '../error-record.js';

/** Host and port of a connection URL, never its credentials (for log lines). */
export function endpointOf(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname}${parsed.port ? `:${parsed.port}` : ''}`;
  } catch {
    return 'an unparsable URL';
  }
}

export interface DatabaseOptions {
  /** Connections in the pool (the worker's is WORKFLOW_DB_POOL_SIZE, not its slot count). */
  poolMax: number;
  applicationName: string;
  /**
   * Where knex's own warnings go (a dropped connection, a failed acquire);
   * without it they are silenced rather than printed as plain text.
   */
  logger?: Logger;
}

/**
 * A knex pool on PostgreSQL. Nothing connects until the first query, so an
 * unreachable server at start is noticed by the caller's readiness checks
 * rather than crashing the process.
 */
export function createDatabase(url: string, options: DatabaseOptions): Knex {
  return knexFactory({
    client: 'pg',
    connection: {
      connectionString: url,
      connectionTimeoutMillis: 5_000,
      application_name: options.applicationName,
    },
    pool: { min: 0, max: options.poolMax },
    acquireConnectionTimeout: 10_000,
    log: {
      warn: (message: unknown) => options.logger?.debug({ source: 'knex' }, String(message)),
      error: (message: unknown) => options.logger?.debug({ source: 'knex' }, String(message)),
      deprecate: (method: string, alternative: string) =>
        options.logger?.warn({ source: 'knex' }, `${method} is deprecated; use ${alternative}`),
      debug: () => {},
    },
  });
}

export interface RedisOptions {
  /**
   * How many reconnection attempts a command waits through before it fails;
   * commands fail fast during an outage instead of piling up.
   */
  maxRetriesPerRequest: number;
  /** Give up reconnecting after this many attempts (undefined: never give up). */
  maxReconnects?: number;
  connectionName: string;
}

/**
 * An ioredis connection that keeps reconnecting with capped backoff, so a
 * Redis outage (or a Redis not yet started) delays work instead of crashing
 * the process. Connection errors are reported through `onError` only.
 */
export function createRedis(
  url: string,
  options: RedisOptions,
  onError: (error: Error) => void = () => {},
): Redis {
  const redis = new Redis(url, {
    lazyConnect: false,
    connectionName: options.connectionName,
    maxRetriesPerRequest: options.maxRetriesPerRequest,
    connectTimeout: 5_000,
    retryStrategy: (times) => {
      if (options.maxReconnects !== undefined && times > options.maxReconnects) return null;
      return Math.min(100 * times, 2_000);
    },
  });
  redis.on('error', onError);
  return redis;
}

/**
 * Logs a dependency's reachability without flooding: one line when it goes
 * down (with the reason), a reminder every `repeatMs` while it stays down,
 * and one line when it is back.
 */
export class Reachability {
  private down = false;
  private lastLoggedAt = 0;
  private lastReason = '';

  constructor(
    private readonly logger: Logger,
    /** e.g. "PostgreSQL at 10.0.0.5:5432" */
    private readonly what: string,
    private readonly words: { down: string; up: string } = {
      down: 'unreachable',
      up: 'reachable again',
    },
    private readonly repeatMs = 30_000,
  ) {}

  get reachable(): boolean {
    return !this.down;
  }

  get reason(): string {
    return this.lastReason;
  }

  failed(error: unknown, context = 'retrying'): void {
    const reason = logText(error) || 'no answer';
    const now = Date.now();
    if (!this.down || now - this.lastLoggedAt >= this.repeatMs || reason !== this.lastReason) {
      this.logger.warn(
        { dependency: this.what, err: reason },
        `${this.what} unreachable (${reason}); ${context}`,
      );
      this.lastLoggedAt = now;
    }
    this.down = true;
    this.lastReason = reason;
  }

  succeeded(): void {
    if (this.down) this.logger.info({ dependency: this.what }, `${this.what} ${this.words.up}`);
    this.down = false;
    this.lastReason = '';
  }
}
