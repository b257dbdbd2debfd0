import type { Redis } from 'ioredis';
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import { DEFAULT_WORKER_SETTINGS } from '../core/config/worker-settings.js';
import { logText } from '../core/error-record.js';
import { ExecutionQueries } from '../store/execution-queries.js';
import { PostgresEventStore } from '../store/postgres-event-store.js';
import { RedisBacklogSource } from '../stream/backlog/index.js';
import { RedisStreamTransport } from '../stream/redis-stream-transport.js';
import type { WorkflowRegistry } from '../workflow/registry.js';
import { DeadLetters } from './dead-letters.js';
import { OutboxRelay, type RelayOptions } from './outbox-relay.js';
import { WorkflowService } from './workflow-service.js';

/** What every program that reads or writes executions shares: api, CLI, client, worker. */
export interface EngineSettings {
  stream: string;
  group: string;
  /** Entries the dead-letter stream keeps (approximately). */
  deadLetterMaxLength: number;
  relay: RelayOptions;
}

export const DEFAULT_ENGINE_SETTINGS: Omit<EngineSettings, 'stream' | 'group'> = {
  deadLetterMaxLength: DEFAULT_WORKER_SETTINGS.deadLetterMaxLength,
  relay: { unpublishedAfterMs: 3_000, republishAfterMs: 60_000, batchSize: 500 },
};

export interface EngineDependencies {
  knex: Knex;
  redis: Redis;
  registry: WorkflowRegistry;
  settings: EngineSettings;
  logger: Logger;
}

/**
 * Wires the event store, the stream transport and the services over them
 * (enqueue, dead letters, the outbox relay) on one PostgreSQL pool and one
 * Redis connection. The worker adds its apply path on top (worker/runtime).
 */
export function createEngine({ knex, redis, registry, settings, logger }: EngineDependencies) {
  const store = new PostgresEventStore(knex);
  const transport = new RedisStreamTransport(redis, settings.stream, settings.group, {
    deadLetterMaxLength: settings.deadLetterMaxLength,
  });
  const service = new WorkflowService(store, transport, registry, (error, eventId) =>
    logger.warn(
      { eventId, err: logText(error) },
      'notice not sent after commit; the relay will resend it',
    ),
  );
  const relay = new OutboxRelay(store, transport, settings.relay);
  const deadLetters = new DeadLetters(store, transport);
  const queries = new ExecutionQueries(knex);
  // The same reader the operator scales on; it never throws (a failed read says so).
  const backlog = new RedisBacklogSource(redis, { includeConsumers: true, timeoutMs: 2_000 });
  const streamBacklog = () => backlog.read(settings.stream, settings.group);
  return { store, transport, service, relay, deadLetters, queries, streamBacklog, registry };
}
