/**
 * What the layers above use of the backlog reader: the Redis source, the
 * connection it wants, and the reading it returns. The operator and the
 * local mode import the modules they need directly.
 */
export { createBacklogRedis } from './connection.js';
export { RedisBacklogSource } from './redis-backlog-source.js';
export type { BacklogReading, BacklogSource } from './types.js';
