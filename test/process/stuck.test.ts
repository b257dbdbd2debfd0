import { Writable } from 'node:stream';
import type { Knex } from 'knex';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { loadWorkerConfig } from '../../core/config/config.js';
import { waitFor } from '../../local/process.js';
import { migrateLatest } from '../../migrations/index.js';
import { WorkerProcess } from '../../worker/process/worker-process.js';
import { bundledWorkflows } from '../../workflow/bundled/index.js';
import { WorkflowRegistry } from '../../workflow/registry.js';
import { testDatabase, testRedis } from '../support/isolation.js';
import { sampleValue } from '../support/metrics.js';
import { openRuntime } from './support.js';

const TENANT = 'acme';

/** Log lines of an in-process worker, parsed. */
function capturedLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const raw of String(chunk).split('\n')) if (raw.trim()) lines.push(JSON.parse(raw));
      done();
    },
  });
  return { logger: pino({ level: 'info' }, sink), lines };
}

describe('a worker whose every slot is stuck', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
  });

  it('fails /readyz, exports flowpool_worker_stuck_slots and warns, then recovers', async () => {
    const db = await testDatabase();
    cleanups.push(() => db.close());
    await migrateLatest(db.knex);
    const redis = await testRedis();
    cleanups.push(() => redis.close());
    const stream = `${redis.prefix}workflow:events:global`;
    const registry = new WorkflowRegistry(bundledWorkflows);
    const app = await openRuntime({ databaseUrl: db.url, redisUrl: redis.url, stream, registry });
    cleanups.push(() => app.close());

    const ids: string[] = [];
    for (let i = 0; i < 2; i += 1) {
      const { executionId } = await app.runtime.service.startExecution({
        tenant: TENANT,
        workflow: 'ticket-lifecycle',
        input: { requester: 'ana@x' },
      });
      await app.runtime.service.enqueueEvent({
        tenant: TENANT,
        executionId,
        event: 'assign',
        payload: { assignee: 'bo' },
      });
      ids.push(executionId);
    }
    // Someone holds both execution rows: each worker commit waits on them with no end.
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let locked = 0;
    const holding = db.knex.transaction(async (trx: Knex.Transaction) => {
      await trx('workflow_executions').whereIn('execution_id', ids).forUpdate();
      locked = ids.length;
      await held;
    });
    cleanups.push(async () => {
      release();
      await holding;
    });
    await waitFor('the rows to be locked', () => locked === 2);

    const { logger, lines } = capturedLogger();
    const worker = new WorkerProcess({
      config: loadWorkerConfig({
        DATABASE_URL: db.url,
        REDIS_URL: redis.url,
        WORKFLOW_REDIS_STREAM_PREFIX: `${redis.prefix}workflow:events:`,
        PORT: '0',
        POD_NAME: 'stuck-worker',
        WORKFLOW_CONCURRENCY: '2',
        WORKFLOW_STUCK_AFTER_MS: '500',
      }),
      registry,
      logger,
      defaultMetrics: false,
    });
    await worker.start();
    cleanups.push(() => worker.drain().then(() => undefined));
    const base = `http://127.0.0.1:${worker.port}`;
    const readyz = async () => {
      const response = await fetch(`${base}/readyz`);
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };
    const stuckSlots = async () =>
      sampleValue(await (await fetch(`${base}/metrics`)).text(), 'flowpool_worker_stuck_slots');

    await waitFor('both slots to be reported stuck', async () => (await stuckSlots()) === 2, {
      timeoutMs: 30_000,
    });
    const answer = await readyz();
    expect(answer.status).toBe(503);
    expect(String(answer.body.reason)).toMatch(/^all 2 slots stuck past their deadlines/);
    await waitFor('a warning naming each stuck execution', () => {
      const warned = lines.filter(
        (line) =>
          line.level === 40 && String(line.msg).startsWith('delivery stuck past its deadline'),
      );
      return ids.every((id) =>
        warned.some((line) => (line.notice as { executionId?: string })?.executionId === id),
      );
    });

    release();
    await holding;
    await waitFor('both executions to be applied', async () => {
      const rows = await db.knex('workflow_executions').whereIn('execution_id', ids);
      return rows.every((row) => Number(row.applied_seq) === 1);
    });
    await waitFor('readiness to come back', async () => (await readyz()).status === 200);
    expect(await stuckSlots()).toBe(0);
  });
});
