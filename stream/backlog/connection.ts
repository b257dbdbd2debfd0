import { Redis, type RedisOptions } from 'ioredis';

/**
 * Client settings for reading backlogs: a poll must fail fast rather than
 * wait for a reconnect, because a failed read already has its meaning (hold
 * the current size) and the next poll comes soon anyway.
 */
const BACKLOG_REDIS_OPTIONS: RedisOptions = {
  lazyConnect: true,
  connectTimeout: 2000,
  commandTimeout: 4000,
  // One retry after a reconnect, then the command fails instead of queueing.
  maxRetriesPerRequest: 1,
  retryStrategy: (attempt) => Math.min(attempt * 100, 1000),
};

/**
 * A client for a pool's Redis. Connection errors come back in readings
 * (readOk false), so the client's own error events go to `onError` (by
 * default nowhere) instead of ioredis's "unhandled error" console output.
 */
export function createBacklogRedis(
  url: string,
  options: RedisOptions = {},
  onError: (error: Error) => void = () => {},
): Redis {
  const redis = new Redis(url, { ...BACKLOG_REDIS_OPTIONS, ...options });
  redis.on('error', onError);
  return redis;
}
