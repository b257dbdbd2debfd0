import knexFactory from 'knex';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PostgresServer } from '../../local/postgres-server.js';
import { waitFor } from '../../local/process.js';
import { RedisServer } from '../../local/redis-server.js';
import { migrateLatest } from '../../migrations/index.js';
import { bundledWorkflows } from '../../workflow/bundled/index.js';
import { WorkflowRegistry } from '../../workflow/registry.js';
import {
  type TestDatabase,
  type TestRedis,
  testDatabase,
  testRedis,
} from '../support/isolation.js';
import { sampleValue } from '../support/metrics.js';
import {
  FlowpoolProcess,
  flowpoolEnv,
  type OpenRuntime,
  openRuntime,
  requireBuild,
  runCli,
} from './support.js';

const TENANT = 'acme';

/** Starts a worker, then follows its readiness while a dependency is away and comes back. */
describe('a worker whose PostgreSQL or Redis is unreachable at start', () => {
  const processes: FlowpoolProcess[] = [];
  const cleanups: Array<() => Promise<unknown>> = [];

  beforeAll(() => requireBuild());

  afterEach(async () => {
    await Promise.all(processes.splice(0).map((child) => child.stop('SIGKILL')));
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
  });

  async function appliedTicket(app: OpenRuntime, executionId: string) {
    await waitFor(
      `${executionId} to be applied`,
      async () => (await app.runtime.service.getExecution(TENANT, executionId))?.appliedSeq === 1,
      { timeoutMs: 30_000 },
    );
    return app.runtime.service.getExecution(TENANT, executionId);
  }

  it('says Redis is unreachable, answers 503, and recovers on its own when Redis starts', async () => {
    const redis = await RedisServer.start();
    cleanups.push(() => redis.destroy());
    await redis.stop();
    const db: TestDatabase = await testDatabase();
    cleanups.push(() => db.close());
    await migrateLatest(db.knex);

    const worker = await FlowpoolProcess.start(
      'worker',
      ['worker'],
      flowpoolEnv(
        { databaseUrl: db.url, redisUrl: redis.url },
        { POD_NAME: 'no-redis', WORKFLOW_RELAY_UNPUBLISHED_AFTER_MS: '300' },
      ),
    );
    processes.push(worker);
    const line = await worker.waitForLog(`Redis at 127.0.0.1:${redis.port} unreachable`);
    expect(line).toMatchObject({ level: 40, dependency: `Redis at 127.0.0.1:${redis.port}` });
    expect(String(line.err)).toContain('ECONNREFUSED');
    await waitFor('/readyz to answer', async () => (await worker.readyz()).status > 0);
    const readiness = await worker.readyz();
    expect(readiness.status).toBe(503);
    expect(String(readiness.body.reason)).toMatch(/^Redis unreachable/);
    expect((await worker.get('/healthz')).status).toBe(200);

    // An event accepted while Redis is down: committed, its notice not sent.
    const app = await openRuntime({
      databaseUrl: db.url,
      redisUrl: redis.url,
      stream: 'workflow:events:global',
      registry: new WorkflowRegistry(bundledWorkflows),
    });
    cleanups.push(() => app.close());
    await app.runtime.service.startExecution({
      tenant: TENANT,
      workflow: 'ticket-lifecycle',
      executionId: 'during-outage',
    });
    await app.runtime.service.enqueueEvent({
      tenant: TENANT,
      executionId: 'during-outage',
      event: 'assign',
      payload: { assignee: 'bo' },
    });
    expect(worker.running).toBe(true);

    await redis.resume();
    await worker.waitReady();
    await worker.waitForLog('worker running');
    // The relay sends the notice the enqueue could not; the worker applies the event.
    expect(await appliedTicket(app, 'during-outage')).toMatchObject({ state: 'in_progress' });
    expect(worker.exit).toBeUndefined();
    const metrics = await worker.metrics();
    expect(sampleValue(metrics, 'flowpool_relay_republished_total')).toBeGreaterThanOrEqual(1);
    expect(sampleValue(metrics, 'flowpool_events_processed_total', { result: 'applied' })).toBe(1);
    expect(sampleValue(metrics, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
  });

  it('says PostgreSQL is unreachable, answers 503, and recovers on its own when PostgreSQL starts', async () => {
    const postgres = await PostgresServer.start();
    cleanups.push(() => postgres.destroy());
    const admin = knexFactory({ client: 'pg', connection: postgres.url, pool: { min: 0, max: 1 } });
    await migrateLatest(admin);
    await admin.destroy();
    await postgres.stop();
    const redisHandle: TestRedis = await testRedis();
    cleanups.push(() => redisHandle.close());

    const worker = await FlowpoolProcess.start(
      'worker',
      ['worker'],
      flowpoolEnv(
        { databaseUrl: postgres.url, redisUrl: redisHandle.url, prefix: redisHandle.prefix },
        { POD_NAME: 'no-postgres' },
      ),
    );
    processes.push(worker);
    const line = await worker.waitForLog(`PostgreSQL at 127.0.0.1:${postgres.port} unreachable`);
    expect(String(line.err)).toContain('ECONNREFUSED');
    await waitFor('/readyz to answer', async () => (await worker.readyz()).status > 0);
    const readiness = await worker.readyz();
    expect(readiness.status).toBe(503);
    expect(String(readiness.body.reason)).toMatch(/^PostgreSQL unreachable/);

    await postgres.resume();
    await worker.waitReady();
    await worker.waitForLog('worker running');
    const app = await openRuntime({
      databaseUrl: postgres.url,
      redisUrl: redisHandle.url,
      stream: `${redisHandle.prefix}workflow:events:global`,
      registry: new WorkflowRegistry(bundledWorkflows),
    });
    cleanups.push(() => app.close());
    await app.runtime.service.startExecution({
      tenant: TENANT,
      workflow: 'ticket-lifecycle',
      executionId: 'after-outage',
    });
    await app.runtime.service.enqueueEvent({
      tenant: TENANT,
      executionId: 'after-outage',
      event: 'assign',
      payload: { assignee: 'bo' },
    });
    expect(await appliedTicket(app, 'after-outage')).toMatchObject({ state: 'in_progress' });
    expect(worker.exit).toBeUndefined();
  });

  it('says the workflow tables are missing until `flowpool migrate` creates them', async () => {
    const db = await testDatabase();
    cleanups.push(() => db.close());
    const redisHandle = await testRedis();
    cleanups.push(() => redisHandle.close());
    const env = flowpoolEnv(
      { databaseUrl: db.url, redisUrl: redisHandle.url, prefix: redisHandle.prefix },
      { POD_NAME: 'no-tables' },
    );
    const worker = await FlowpoolProcess.start('worker', ['worker'], env);
    processes.push(worker);
    const line = await worker.waitForLog('workflow tables missing');
    expect(String(line.msg)).toContain('run `flowpool migrate`');
    const readiness = await worker.readyz();
    expect(readiness.status).toBe(503);
    expect(String(readiness.body.reason)).toContain('run `flowpool migrate`');

    const migrated = await runCli(['migrate'], env);
    expect(migrated, migrated.stderr).toMatchObject({ code: 0 });
    expect(migrated.stdout).toContain('applied 001_workflow_tables');
    await worker.waitReady();
    await worker.waitForLog('has the workflow tables');
  });
});
