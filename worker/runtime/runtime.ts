import type { Redis } from 'ioredis';
import type { Clock } from '../../core/clock.js';
import { DEFAULT_WORKER_SETTINGS } from '../../core/config/worker-settings.js';
import {
  createEngine,
  DEFAULT_ENGINE_SETTINGS,
  type EngineDependencies,
  type EngineSettings,
} from '../../engine/engine.js';
import { RedisStreamTransport } from '../../stream/redis-stream-transport.js';
import { BatchLock } from '../lock/batch-lock.js';
import { ActionRunner } from './actions.js';
import { DeliveryHandler } from './delivery-handler.js';
import { ExecutionProcessor, type ProcessorOptions } from './processor.js';
import { type ConsumerObserver, type ConsumerOptions, StreamConsumer } from './stream-consumer.js';

/** The engine's settings plus the worker's apply path. */
export interface RuntimeSettings extends EngineSettings {
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
  retryBaseMs: number;
  retryMaxMs: number;
  busyRetryMs: number;
  /** This process's clock (a test may skew it). */
  clock?: Clock;
  beforeFence?: ProcessorOptions['beforeFence'];
}

export const DEFAULT_RUNTIME_SETTINGS: Omit<RuntimeSettings, 'stream' | 'group' | 'workerId'> = {
  ...DEFAULT_ENGINE_SETTINGS,
  lockPrefix: 'flowpool:lock:',
  lockTtlMs: 15_000,
  maxDeliveries: 5,
  applyBatchSize: 100,
  snapshotEvery: 50,
  actionTimeoutMs: DEFAULT_WORKER_SETTINGS.actionTimeoutMs,
  readBytes: DEFAULT_WORKER_SETTINGS.catchUpReadBytes,
  stateCacheBytes: DEFAULT_WORKER_SETTINGS.stateCacheBytes,
  retryBaseMs: 250,
  retryMaxMs: 30_000,
  busyRetryMs: 50,
};

export interface RuntimeDependencies extends EngineDependencies {
  settings: RuntimeSettings;
}

/** Wires a worker: the engine, the execution locks, the apply path and the stream consumer. */
export function createRuntime(dependencies: RuntimeDependencies) {
  const { redis, registry, settings, logger } = dependencies;
  const engine = createEngine(dependencies);
  const { store, transport, service } = engine;
  const actions = new ActionRunner(store, {
    timeoutMs: settings.actionTimeoutMs,
    readBytes: settings.readBytes,
  });
  const lock = new BatchLock(redis, {
    ttlMs: settings.lockTtlMs,
    keyPrefix: settings.lockPrefix,
  });
  const processor = new ExecutionProcessor(store, registry, lock, actions, {
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

  /**
   * The stream consumer. XREADGROUP BLOCK holds its connection, so each
   * reading loop gets its own from `openReader` (by default a duplicate of
   * the runtime's); closeReaders() closes them after the consumer's drain.
   */
  function createConsumer(
    options: ConsumerOptions,
    observer?: ConsumerObserver,
    openReader: (loop: number) => Redis = () => redis.duplicate(),
  ) {
    const readerConnections = Array.from({ length: options.loops }, (_, loop) => openReader(loop));
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

  return { ...engine, lock, processor, handler, createConsumer };
}

export type Runtime = ReturnType<typeof createRuntime>;
