export { REMOVE_CONSUMER } from '../scripts.js';
export { BACKLOG_REDIS_OPTIONS, createBacklogRedis } from './connection.js';
export { BacklogError } from './errors.js';
export { lagFromCount, lagUpperBound, reportedLag } from './estimate.js';
export {
  RedisBacklogSource,
  type RedisBacklogSourceOptions,
  unreadable,
} from './redis-backlog-source.js';
export type {
  BacklogErrorCode,
  BacklogKnown,
  BacklogReadError,
  BacklogReading,
  BacklogSource,
  BacklogUnreadable,
  ConsumerAdmin,
  ConsumerInfo,
  ConsumersReading,
  LagEstimate,
  LagSource,
  RemoveConsumerResult,
  StreamState,
} from './types.js';
export {
  type GroupInfo,
  parseConsumers,
  parseGroups,
  parseStream,
  type StreamInfo,
} from './xinfo.js';
