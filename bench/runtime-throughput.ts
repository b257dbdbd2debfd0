/**
 * Durable apply throughput and enqueue→applied latency of one worker process.
 * Usage: node dist/bench/runtime-throughput.js [executions] [eventsPerExecution] [concurrency] [--apply-only]
 * Uses DATABASE_URL / REDIS_URL when set, else throwaway local servers.
 */
import { Redis } from 'ioredis';
import knexFactory from 'knex';
import pino from 'pino';
import { migrateLatest } from '../migrations/index.js';
import { PostgresServer } from '../worker/local/postgres-server.js';
import { RedisServer } from '../worker/local/redis-server.js';
import { createRuntime, DEFAULT_RUNTIME_SETTINGS } from '../worker/runtime/runtime.js';
import { WorkflowRegistry } from '../worker/workflow/registry.js';
import { bundledWorkflows } from '../worker/workflows/index.js';

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

async function main() {
  const [executions = 200, perExecution = 50, concurrency = 8] = process.argv
    .slice(2)
    .filter((a) => !a.startsWith('--'))
    .map(Number);
  const pgServer = process.env.DATABASE_URL ? undefined : await PostgresServer.start();
  const redisServer = process.env.REDIS_URL ? undefined : await RedisServer.start();
  const knex = knexFactory({
    client: 'pg',
    connection: process.env.DATABASE_URL ?? pgServer!.url,
    pool: { min: 2, max: 20 },
  });
  const redis = new Redis(process.env.REDIS_URL ?? redisServer!.url);
  await migrateLatest(knex);
  const runtime = createRuntime({
    knex,
    redis,
    registry: new WorkflowRegistry(bundledWorkflows),
    settings: {
      ...DEFAULT_RUNTIME_SETTINGS,
      stream: `bench:${Date.now()}`,
      group: 'g',
      workerId: 'bench',
    },
    logger: pino({ level: 'warn' }),
  });
  const ids: string[] = [];
  for (let i = 0; i < executions; i += 1) {
    ids.push(
      (await runtime.service.startExecution({ tenant: 'bench', workflow: 'ticket-lifecycle' }))
        .executionId,
    );
  }
  const total = executions * perExecution;
  const enqueueStarted = performance.now();
  const producers = Array.from({ length: 8 }, async (_, p) => {
    for (let i = p; i < total; i += 8) {
      await runtime.service.enqueueEvent({
        tenant: 'bench',
        executionId: ids[i % executions]!,
        event: 'comment',
        payload: { text: `${i}` },
      });
    }
  });
  const { consumer, closeReaders } = runtime.createConsumer({
    consumerName: 'bench',
    loops: 2,
    batchSize: 10,
    blockMs: 200,
    concurrency,
    idleTimeoutMs: 60_000,
  });
  // APPLY_ONLY=1 measures the worker alone on a backlog enqueued beforehand.
  const applyOnly = process.argv.includes('--apply-only');
  if (!applyOnly) await consumer.start();
  await Promise.all(producers);
  const enqueueSeconds = (performance.now() - enqueueStarted) / 1000;
  const applyStarted = applyOnly ? performance.now() : enqueueStarted;
  if (applyOnly) await consumer.start();
  for (;;) {
    const rows = await knex('workflow_events').where({ status: 'pending' }).count({ n: '*' });
    if (Number(rows[0]?.n) === 0) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const seconds = (performance.now() - applyStarted) / 1000;
  const latencies = (
    await knex.raw(
      `select extract(epoch from (applied_at - created_at)) * 1000 as ms from workflow_events where tenant = 'bench'`,
    )
  ).rows
    .map((r: { ms: string }) => Number(r.ms))
    .sort((a: number, b: number) => a - b);
  console.log(
    JSON.stringify({
      events: total,
      executions,
      concurrency,
      enqueueRate: Math.round(total / enqueueSeconds),
      appliedRate: Math.round(total / seconds),
      latencyMs: { p50: percentile(latencies, 50), p99: percentile(latencies, 99) },
    }),
  );
  await consumer.drain(5_000);
  closeReaders();
  redis.disconnect();
  await knex.destroy();
  await pgServer?.destroy();
  await redisServer?.destroy();
}

await main();
