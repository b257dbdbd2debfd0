import type { Redis } from 'ioredis';
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { Clock } from '../../core/clock.js';
import { DEFAULT_WORKER_SETTINGS } from '../../core/config/worker-settings.js';
import { logText } from '../../core/error-record.js';
import { DeadLetters } from '../../engine/dead-letters.js';
import { OutboxRelay, type RelayOptions } from '../../engine/outbox-relay.js';
import { WorkflowService } from '../../engine/workflow-service.js';
import { ExecutionQueries } from '../../store/execution-queries.js';
import { PostgresEventStore } from '../../store/postgres-event-store.js';
import { RedisBacklogSource } from '../../stream/backlog/index.js';
import { RedisStreamTransport } from '../../stream/redis-stream-transport.js';
import type { WorkflowRegistry } from '../../workflow/registry.js';
import { BatchLock } from '../lock/batch-lock.js';
import { RedlockExecutionLock } from '../lock/redlock-execution-lock.js';
import { ActionRunner } from './actions.js';
import { DeliveryHandler } from './delivery-handler.js';
import { ExecutionProcessor, type ProcessorOptions } from './processor.js';
import { type ConsumerObserver, type ConsumerOptions, StreamConsumer } from './stream-consumer.js';

export interface RuntimeSettings {
  stream: string;
  group: string;
  workerId: string;
  lockPrefix: string;
  lockTtlMs: number;
  maxDeliveries: number;
  applyBatchSize: number;
  snapshotEvery: number;
  actionTimeoutMs: number;
  /** Payload bytes one read of events or pending actions brings into memory. */
  readBytes: number;
  /** Bytes of folded states kept between deliveries. */
  stateCacheBytes: number;
  /** Entries the dead-letter stream keeps (approximately). */
  deadLetterMaxLength: number;
  retryBaseMs: number;
  retryMaxMs: number;
  busyRetryMs: number;
  relay: RelayOptions;
  /** This process's clock (a test may skew it). */
  clock?: Clock;
  beforeFence?: ProcessorOptions['beforeFence'];
}

export const DEFAULT_RUNTIME_SETTINGS: Omit<RuntimeSettings, 'stream' | 'group' | 'workerId'> = {
  lockPrefix: 'flowpool:lock:',
  lockTtlMs: 15_000,
  maxDeliveries: 5,
  applyBatchSize: 100,
  snapshotEvery: 50,
  actionTimeoutMs: DEFAULT_WORKER_SETTINGS.actionTimeoutMs,
  readBytes: DEFAULT_WORKER_SETTINGS.catchUpReadBytes,
  stateCacheBytes: DEFAULT_WORKER_SETTINGS.stateCacheBytes,
  deadLetterMaxLength: DEFAULT_WORKER_SETTINGS.deadLetterMaxLength,
  retryBaseMs: 250,
  retryMaxMs: 30_000,
  busyRetryMs: 50,
  relay: { unpublishedAfterMs: 3_000, republishAfterMs: 60_000, batchSize: 500 },
};

export interface RuntimeDependencies {
  knex: Knex;
  redis: Redis;
  registry: WorkflowRegistry;
  settings: RuntimeSettings;
  logger: Logger;
}

/** Wires the runtime's parts over one PostgreSQL pool and one Redis connection. */
export function createRuntime({ knex, redis, registry, settings, logger }: RuntimeDependencies) {
  const store = new PostgresEventStore(knex);
  const transport = new RedisStreamTransport(redis, settings.stream, settings.group, {
    deadLetterMaxLength: settings.deadLetterMaxLength,
  });
  const lock = new RedlockExecutionLock(redis, {
    ttlMs: settings.lockTtlMs,
    retryCount: 3,
    retryDelayMs: 40,
    keyPrefix: settings.lockPrefix,
  });
  const service = new WorkflowService(store, transport, registry, (error, eventId) =>
    logger.warn(
      { eventId, err: logText(error) },
      'notice not sent after commit; the relay will resend it',
    ),
  );
  const actions = new ActionRunner(store, {
    timeoutMs: settings.actionTimeoutMs,
    readBytes: settings.readBytes,
  });
  const batchLock = new BatchLock(redis, {
    ttlMs: settings.lockTtlMs,
    keyPrefix: settings.lockPrefix,
  });
  const processor = new ExecutionProcessor(store, registry, batchLock, actions, {
    workerId: settings.workerId,
    batchSize: settings.applyBatchSize,
    snapshotEvery: settings.snapshotEvery,
    readBytes: settings.readBytes,
    stateCacheBytes: settings.stateCacheBytes,
    beforeFence: settings.beforeFence,
  });
  const handler = new DeliveryHandler(
    processor,
    store,
    transport,
    registry,
    service,
    settings,
    logger,
  );
  const relay = new OutboxRelay(store, transport, settings.relay);
  const deadLetters = new DeadLetters(store, transport);
  const queries = new ExecutionQueries(knex);
  // The same reader the operator scales on; it never throws (a failed read says so).
  const backlog = new RedisBacklogSource(redis, { includeConsumers: true, timeoutMs: 2_000 });
  const streamBacklog = () => backlog.read(settings.stream, settings.group);

  /** A consumer with its own blocking connection per reading loop. */
  function createConsumer(options: ConsumerOptions, observer?: ConsumerObserver) {
    const readerConnections = Array.from({ length: options.loops }, () => redis.duplicate());
    const readers = readerConnections.map(
      (conn) => new RedisStreamTransport(conn, settings.stream, settings.group),
    );
    const consumer = new StreamConsumer(
      transport,
      readers,
      handler,
      { clock: settings.clock, ...options },
      logger,
      observer,
    );
    const closeReaders = () => {
      for (const conn of readerConnections) conn.disconnect();
    };
    return { consumer, closeReaders };
  }

  return {
    store,
    transport,
    lock,
    service,
    processor,
    handler,
    relay,
    deadLetters,
    queries,
    streamBacklog,
    registry,
    createConsumer,
  };
}

export type Runtime = ReturnType<typeof createRuntime>;
