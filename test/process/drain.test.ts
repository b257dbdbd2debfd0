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
const DRAIN_DEADLINE_MS = 15_000;
/** Far longer than the test may take: nothing may wait for an idle takeover. */
const IDLE_TIMEOUT_MS = 120_000;

describe('a worker draining on SIGTERM', () => {
  let db: TestDatabase;
  let redisHandle: TestRedis;
  let app: OpenRuntime;
  const processes: FlowpoolProcess[] = [];

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
    await Promise.all(processes.map((child) => child.stop('SIGKILL')));
    await app?.close();
    await redisHandle?.close();
    await db?.close();
  });

  async function startWorker(name: string, extra: Record<string, string> = {}) {
    const child = await FlowpoolProcess.start(
      name,
      ['worker'],
      flowpoolEnv(
        { databaseUrl: db.url, redisUrl: redisHandle.url, prefix: redisHandle.prefix },
        {
          POD_NAME: name,
          FLOWPOOL_WORKFLOWS: SLOW_WORKFLOW,
          LOG_LEVEL: 'debug',
          WORKFLOW_WORKER_COUNT: '2',
          WORKFLOW_CONCURRENCY: '8',
          WORKFLOW_REDIS_IDLE_TIMEOUT_MS: String(IDLE_TIMEOUT_MS),
          WORKFLOW_DRAIN_TIMEOUT_MS: String(DRAIN_DEADLINE_MS),
          ...extra,
        },
      ),
    );
    processes.push(child);
    await child.waitReady();
    return child;
  }

  async function inFlight(worker: FlowpoolProcess): Promise<number | undefined> {
    return sampleValue(await worker.metrics(), 'flowpool_in_flight');
  }

  it('finishes what runs, hands back what waits, exits 0 in time, and a second worker takes over at once', async () => {
    const workerA = await startWorker('drain-a');
    const service = app.runtime.service;
    const ids = ['job-1', 'job-2', 'job-3', 'job-4'];
    for (const id of ids)
      await service.startExecution({ tenant: TENANT, workflow: 'slow-job', executionId: id });
    // First event of each job: its action sleeps 4 s, long after the transition commits.
    for (const id of ids)
      await service.enqueueEvent({
        tenant: TENANT,
        executionId: id,
        event: 'work',
        payload: { ms: 4_000 },
      });
    await waitFor('A to apply the four first events', async () => {
      return (await eventStatusCounts(app.knex)).applied === 4;
    });
    // Second event of each job: A reads the notices and queues them behind their job.
    for (const id of ids)
      await service.enqueueEvent({
        tenant: TENANT,
        executionId: id,
        event: 'work',
        payload: { ms: 200 },
      });
    await waitFor('A to hold eight deliveries', async () => (await inFlight(workerA)) === 8);

    // B is up and idle: every notice is held by A.
    const workerB = await startWorker('drain-b');
    expect(await inFlight(workerA)).toBe(8);
    expect((await eventStatusCounts(app.knex)).pending).toBe(4);

    const signalledAt = Date.now();
    workerA.signal('SIGTERM');
    const exit = await workerA.exited;
    const exitMs = Date.now() - signalledAt;
    expect(exit, workerA.tail()).toEqual({ code: 0, signal: null });
    expect(exitMs).toBeLessThan(DRAIN_DEADLINE_MS);

    const drained = workerA.logged('drained');
    expect(drained, workerA.tail()).toHaveLength(1);
    expect(drained[0]).toMatchObject({
      msg: 'drained: in-flight work finished',
      holding: 8,
      handedBack: 4,
      leftGroup: true,
      workerId: 'drain-a',
    });

    // B applies the handed-back events right away (not after the 120 s idle timeout).
    await waitFor(
      'B to apply the handed-back events and run their actions',
      async () => {
        const counts = await eventStatusCounts(app.knex);
        const actions = await app.knex('workflow_action_results').where({ status: 'succeeded' });
        return counts.applied === 8 && actions.length === 8;
      },
      { timeoutMs: 20_000 },
    );
    expect(Date.now() - signalledAt).toBeLessThan(20_000);

    // Nothing A finished ran again: one attempt per action, one processing per event.
    const actions = await app
      .knex('workflow_action_results')
      .select('event_id', 'attempts', 'status');
    expect(actions).toHaveLength(8);
    for (const action of actions)
      expect(action).toMatchObject({ attempts: 1, status: 'succeeded' });
    const processing = await app
      .knex('workflow_events as e')
      .join('workflow_event_processing as p', 'p.event_id', 'e.event_id')
      .select('e.execution_id', 'e.seq', 'p.status', 'p.attempt_count', 'p.worker_id');
    expect(processing).toHaveLength(8);
    for (const row of processing) {
      expect(row).toMatchObject({
        status: 'completed',
        attempt_count: 1,
        worker_id: row.seq === '1' || row.seq === 1 ? 'drain-a' : 'drain-b',
      });
    }
    for (const id of ids) {
      const execution = await service.getExecution(TENANT, id);
      expect(execution).toMatchObject({ appliedSeq: 2, data: { worked: 2 } });
    }

    // B got the notices while A still held the jobs' locks, and applied only the second events.
    const metricsB = await workerB.metrics();
    expect(sampleValue(metricsB, 'flowpool_events_processed_total', { result: 'applied' })).toBe(4);
    expect(sampleValue(metricsB, 'flowpool_lock_contention_total')).toBeGreaterThan(0);

    // The group holds nothing pending and A has left it.
    const stream = `${redisHandle.prefix}workflow:events:global`;
    await waitFor('the group to have nothing pending', async () => {
      const summary = (await redisHandle.redis.xpending(stream, 'workflow-workers')) as [number];
      return Number(summary[0]) === 0;
    });
    const consumers = (await redisHandle.redis.xinfo(
      'CONSUMERS',
      stream,
      'workflow-workers',
    )) as Array<Array<string | number>>;
    const names = consumers.map((fields) => String(fields[fields.indexOf('name') + 1]));
    expect(names).not.toContain('drain-a');

    // B, with nothing left to do, drains at once.
    expect(await workerB.stop()).toEqual({ code: 0, signal: null });
    expect(workerB.logged('drained')[0]).toMatchObject({
      holding: 0,
      handedBack: 0,
      leftGroup: true,
    });

    // Every log line about an event names the event, its execution, its tenant and the worker.
    for (const worker of [workerA, workerB]) {
      const aboutEvents = worker.lines
        .map((line) => line.json)
        .filter((json) => json !== undefined && 'eventId' in json);
      expect(aboutEvents.length).toBeGreaterThan(0);
      for (const line of aboutEvents) {
        expect(line).toMatchObject({
          tenant: TENANT,
          executionId: expect.any(String),
          workerId: worker.name === workerA.name ? 'drain-a' : 'drain-b',
        });
      }
    }
  });

  it('hands back work still running at the deadline, and another worker redoes it at once', async () => {
    const short = { WORKFLOW_DRAIN_TIMEOUT_MS: '1000', WORKFLOW_LOCK_TTL_MS: '1500' };
    const workerD = await startWorker('drain-d', short);
    const service = app.runtime.service;
    await service.startExecution({ tenant: TENANT, workflow: 'slow-job', executionId: 'job-d' });
    const { eventId } = await service.enqueueEvent({
      tenant: TENANT,
      executionId: 'job-d',
      event: 'work',
      // Long enough to still run after E has started, even on a busy machine.
      payload: { ms: 15_000 },
    });
    await waitFor('D to start the long action', async () => (await inFlight(workerD)) === 1, {
      timeoutMs: 60_000,
    });
    const workerE = await startWorker('drain-e', short);

    const signalledAt = Date.now();
    workerD.signal('SIGTERM');
    expect(await workerD.exited, workerD.tail()).toEqual({ code: 0, signal: null });
    expect(Date.now() - signalledAt).toBeLessThan(1_000 + 4_000);
    expect(workerD.logged('drained')[0]).toMatchObject({
      msg: 'drained: deadline passed; unfinished work handed back',
      holding: 1,
      handedBack: 1,
    });
    // E redoes the action as soon as D's lock lapses: at-least-once, well before the idle timeout.
    const ranByE = () =>
      workerE
        .logged('delivery done')
        .filter((line) => line.executionId === 'job-d' && line.actionsRun === 1);
    // The outcome commits before E acks and logs the delivery: wait for both.
    await waitFor(
      'E to finish the handed-back action and log it',
      async () => {
        const [action] = await app.knex('workflow_action_results').where({ event_id: eventId });
        return action?.status === 'succeeded' && ranByE().length > 0;
      },
      { timeoutMs: 60_000 },
    );
    expect(ranByE()).toHaveLength(1);
    expect(Date.now() - signalledAt).toBeLessThan(60_000);
    expect(await workerE.stop()).toEqual({ code: 0, signal: null });
  });

  it('exits at once on a second signal', async () => {
    const worker = await startWorker('drain-c');
    const service = app.runtime.service;
    await service.startExecution({ tenant: TENANT, workflow: 'slow-job', executionId: 'job-c' });
    await service.enqueueEvent({
      tenant: TENANT,
      executionId: 'job-c',
      event: 'work',
      payload: { ms: 10_000 },
    });
    await waitFor('C to start the long action', async () => (await inFlight(worker)) === 1, {
      timeoutMs: 60_000,
    });
    worker.signal('SIGTERM');
    await worker.waitForLog('shutting down');
    expect(worker.running).toBe(true);
    const secondAt = Date.now();
    worker.signal('SIGTERM');
    const exit = await worker.exited;
    expect(Date.now() - secondAt).toBeLessThan(2_000);
    expect(exit.code).toBe(1);
    expect(worker.logged('second signal')).toHaveLength(1);
  });
});
