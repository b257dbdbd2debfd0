import { Redis } from 'ioredis';
import pino from 'pino';
import { waitFor } from '../../local/process.js';
import { migrateLatest } from '../../migrations/index.js';
import {
  createRuntime,
  DEFAULT_RUNTIME_SETTINGS,
  type Runtime,
  type RuntimeSettings,
} from '../../worker/runtime/runtime.js';
import type { ConsumerOptions } from '../../worker/runtime/stream-consumer.js';
import { bundledWorkflows } from '../../workflow/bundled/index.js';
import type { WorkflowDefinition } from '../../workflow/definition.js';
import { WorkflowRegistry } from '../../workflow/registry.js';
import {
  type TestDatabase,
  type TestRedis,
  testDatabase,
  testRedis,
  uniqueSuffix,
} from './isolation.js';

export interface TestRuntimeOptions {
  workflows?: readonly WorkflowDefinition[];
  settings?: Partial<RuntimeSettings>;
  /** Reuse another test runtime's database and Redis (e.g. two racing workers). */
  shareWith?: TestRuntime;
  redisUrl?: string;
  databaseUrl?: string;
}

export interface TestRuntime extends Runtime {
  db: TestDatabase;
  redisHandle: TestRedis;
  settings: RuntimeSettings;
  /** Starts a consumer with test-friendly timings; stopped by close(). */
  startConsumer(options?: Partial<ConsumerOptions>): Promise<ReturnType<Runtime['createConsumer']>>;
  close(): Promise<void>;
}

export const silentLogger = pino({ level: 'silent' });

/** A runtime on a database and key prefix of this test's own. */
export async function startTestRuntime(options: TestRuntimeOptions = {}): Promise<TestRuntime> {
  const shared = options.shareWith;
  const db = shared?.db ?? (await testDatabase(options.databaseUrl));
  if (!shared) await migrateLatest(db.knex);
  const redisHandle = shared?.redisHandle ?? (await testRedis(options.redisUrl));
  const redis = new Redis(redisHandle.url, { maxRetriesPerRequest: 2 });
  const settings: RuntimeSettings = {
    ...DEFAULT_RUNTIME_SETTINGS,
    stream: `${redisHandle.prefix}workflow:events:global`,
    group: 'workflow-workers',
    workerId: `worker-${uniqueSuffix()}`,
    lockPrefix: `${redisHandle.prefix}lock:`,
    retryBaseMs: 20,
    retryMaxMs: 200,
    ...options.settings,
  };
  const registry = new WorkflowRegistry(options.workflows ?? bundledWorkflows);
  const runtime = createRuntime({ knex: db.knex, redis, registry, settings, logger: silentLogger });
  const consumers: Array<ReturnType<Runtime['createConsumer']>> = [];
  return {
    ...runtime,
    db,
    redisHandle,
    settings,
    async startConsumer(overrides = {}) {
      const started = runtime.createConsumer({
        consumerName: settings.workerId,
        loops: 2,
        batchSize: 10,
        blockMs: 100,
        concurrency: 8,
        idleTimeoutMs: 30_000,
        ...overrides,
      });
      consumers.push(started);
      await started.consumer.start();
      return started;
    },
    async close() {
      for (const { consumer, closeReaders } of consumers) {
        await consumer.drain(5_000);
        closeReaders();
      }
      redis.disconnect();
      if (!shared) {
        await redisHandle.close();
        await db.close();
      }
    },
  };
}

/** Waits until no event of any execution is still pending. */
export async function waitUntilSettled(runtime: TestRuntime, timeoutMs = 60_000): Promise<void> {
  await waitFor(
    'every event to leave pending',
    async () => {
      const rows = await runtime.db
        .knex('workflow_events')
        .where({ status: 'pending' })
        .count({ count: '*' });
      return Number(rows[0]?.count) === 0;
    },
    { timeoutMs },
  );
}
