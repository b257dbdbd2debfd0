import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../local/process.js';
import { migrateLatest } from '../../migrations/index.js';
import { loadWorkflows } from '../../workflow/loader.js';
import {
  type TestDatabase,
  type TestRedis,
  testDatabase,
  testRedis,
} from '../support/isolation.js';
import { sampleValue } from '../support/metrics.js';
import {
  eventStatusCounts,
  FlowpoolProcess,
  flowpoolEnv,
  type OpenRuntime,
  openRuntime,
  requireBuild,
  SLOW_WORKFLOW,
} from './support.js';

const TENANT = 'acme';
const JOBS = 40;
const POOL_SIZE = 2;
const NAME = 'pool-size-a';

describe('a worker with many slots and a small database pool', () => {
  let db: TestDatabase;
  let redisHandle: TestRedis;
  let app: OpenRuntime;
  let worker: FlowpoolProcess | undefined;

  beforeAll(async () => {
    requireBuild();
    db = await testDatabase();
    await migrateLatest(db.knex);
    redisHandle = await testRedis();
    app = await openRuntime({
      databaseUrl: db.url,
      redisUrl: redisHandle.url,
      stream: `${redisHandle.prefix}workflow:events:global`,
      registry: await loadWorkflows(SLOW_WORKFLOW),
    });
  });

  afterAll(async () => {
    await worker?.stop('SIGKILL');
    await app?.close();
    await redisHandle?.close();
    await db?.close();
  });

  /** The worker's connections to PostgreSQL right now (it names them after its pod). */
  async function workerConnections(): Promise<number> {
    const result = await app.knex.raw(
      'select count(*)::int as n from pg_stat_activity where application_name = ?',
      [`flowpool-worker ${NAME}`],
    );
    return Number(result.rows[0].n);
  }

  it('runs far more deliveries at once than it has connections, and never opens more than WORKFLOW_DB_POOL_SIZE', async () => {
    worker = await FlowpoolProcess.start(
      NAME,
      ['worker'],
      flowpoolEnv(
        { databaseUrl: db.url, redisUrl: redisHandle.url, prefix: redisHandle.prefix },
        {
          POD_NAME: NAME,
          FLOWPOOL_WORKFLOWS: SLOW_WORKFLOW,
          WORKFLOW_CONCURRENCY: '64',
          WORKFLOW_DB_POOL_SIZE: String(POOL_SIZE),
        },
      ),
    );
    await worker.waitReady();
    let most = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        most = Math.max(most, await workerConnections());
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    try {
      const service = app.runtime.service;
      const ids = Array.from({ length: JOBS }, (_, i) => `job-${i}`);
      for (const id of ids)
        await service.startExecution({ tenant: TENANT, workflow: 'slow-job', executionId: id });
      // Each event's action sleeps after its transition commits, holding its slot (not a connection).
      for (const id of ids)
        await service.enqueueEvent({
          tenant: TENANT,
          executionId: id,
          event: 'work',
          payload: { ms: 1_500 },
        });
      await waitFor(
        'more deliveries in flight than the pool has connections',
        async () =>
          (sampleValue(await worker!.metrics(), 'flowpool_in_flight') ?? 0) > POOL_SIZE * 5,
      );
      await waitFor(
        'every event applied and every action run',
        async () => {
          const counts = await eventStatusCounts(app.knex);
          const actions = await app.knex('workflow_action_results').where({ status: 'succeeded' });
          return counts.applied === JOBS && actions.length === JOBS;
        },
        { timeoutMs: 30_000 },
      );
    } finally {
      sampling = false;
      await sampler;
    }
    expect(most).toBeGreaterThan(0);
    expect(most).toBeLessThanOrEqual(POOL_SIZE);
    expect(await worker.stop()).toEqual({ code: 0, signal: null });
  });
});
