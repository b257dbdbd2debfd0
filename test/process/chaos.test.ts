import knexFactory, { type Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedis } from '../../core/process/connections.js';
import { verifyExecution } from '../../engine/verify.js';
import { PostgresServer } from '../../local/postgres-server.js';
import { waitFor } from '../../local/process.js';
import { RedisServer } from '../../local/redis-server.js';
import { migrateLatest } from '../../migrations/index.js';
import { PostgresEventStore } from '../../store/postgres-event-store.js';
import { bundledWorkflows } from '../../workflow/bundled/index.js';
import { WorkflowRegistry } from '../../workflow/registry.js';
import { childEnv, FlowpoolProcess, requireBuild } from './support.js';

const WORKERS = 4;
const EXECUTIONS = 200;
/** Per execution: one assign, then this many comments. */
const COMMENTS = 50;
const TOTAL_EVENTS = EXECUTIONS * (COMMENTS + 1);
/** Parallel request lanes; each owns some executions and sends their events in order. */
const LANES = 32;
const KILL_EVERY_MS = 3_000;
const TENANT = 'chaos';
const TOKEN = 'chaos-token-0123456789';
const STREAM = 'workflow:events:global';
const GROUP = 'workflow-workers';

interface Sent {
  eventId: string;
  seq: number;
  event: string;
  text?: string;
}

/**
 * The whole system under faults: 4 worker processes and the API, events
 * enqueued over HTTP while workers are SIGKILLed and restarted, Redis is
 * restarted empty and PostgreSQL is restarted. Afterwards every accepted
 * event must be applied exactly once and in order, nothing pending, and every
 * process must have recovered on its own.
 */
describe('chaos: workers killed, Redis emptied, PostgreSQL restarted while events arrive', () => {
  let postgres: PostgresServer;
  let redis: RedisServer;
  let knex: Knex;
  let api: FlowpoolProcess;
  const workers: FlowpoolProcess[] = [];
  const everyProcess: FlowpoolProcess[] = [];

  beforeAll(async () => {
    requireBuild();
    [postgres, redis] = await Promise.all([PostgresServer.start(), RedisServer.start()]);
    knex = knexFactory({ client: 'pg', connection: postgres.url, pool: { min: 0, max: 4 } });
    await migrateLatest(knex);
  });

  afterAll(async () => {
    await Promise.all(everyProcess.map((child) => child.stop('SIGKILL')));
    await knex?.destroy();
    await Promise.all([postgres?.destroy(), redis?.destroy()]);
  });

  const baseEnv = () =>
    childEnv({
      DATABASE_URL: postgres.url,
      REDIS_URL: redis.url,
      LOG_LEVEL: 'info',
      // Short timings so lost notices and abandoned entries come back within seconds.
      WORKFLOW_LOCK_TTL_MS: '2000',
      WORKFLOW_REDIS_IDLE_TIMEOUT_MS: '5000',
      WORKFLOW_RELAY_INTERVAL_MS: '500',
      WORKFLOW_RELAY_UNPUBLISHED_AFTER_MS: '1000',
      WORKFLOW_RELAY_REPUBLISH_AFTER_MS: '3000',
      WORKFLOW_DRAIN_TIMEOUT_MS: '5000',
      WORKFLOW_CONCURRENCY: '16',
      WORKFLOW_WORKER_COUNT: '2',
      // Outages never count as deliveries; this only keeps real bugs from hiding as dead letters.
      WORKFLOW_MAX_DELIVERIES: '20',
    });

  async function startWorker(slot: number): Promise<FlowpoolProcess> {
    const worker = await FlowpoolProcess.start(
      `worker ${slot}`,
      ['worker'],
      { ...baseEnv(), POD_NAME: `chaos-${slot}` },
      { keepLines: 2_000 },
    );
    workers[slot] = worker;
    everyProcess.push(worker);
    return worker;
  }

  /** POSTs until the API gives a definite answer; outages (503, resets) are retried as they are. */
  async function post(route: string, body: unknown, accept: number[]): Promise<unknown> {
    const deadline = Date.now() + 120_000;
    let last = '';
    while (Date.now() < deadline) {
      try {
        const response = await fetch(`http://127.0.0.1:${api.port}${route}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(10_000),
        });
        const text = await response.text();
        if (accept.includes(response.status)) return text === '' ? {} : JSON.parse(text);
        last = `${response.status} ${text.slice(0, 200)}`;
        if (response.status < 500) throw new Error(`${route}: unexpected ${last}`);
      } catch (error) {
        if (error instanceof Error && error.message.includes('unexpected')) throw error;
        last = String(error);
      }
      await new Promise((resolve) => setTimeout(resolve, 100 + Math.random() * 200));
    }
    throw new Error(`${route}: no answer within 120 s (last: ${last})`);
  }

  it('applies every accepted event exactly once and in order, and every process recovers', {
    timeout: 600_000,
  }, async () => {
    const startedAt = Date.now();
    api = await FlowpoolProcess.start('api', ['api'], {
      ...baseEnv(),
      FLOWPOOL_API_TOKENS: JSON.stringify({ [TOKEN]: TENANT }),
    });
    everyProcess.push(api);
    for (let slot = 0; slot < WORKERS; slot += 1) await startWorker(slot);
    await api.waitReady();
    for (const worker of workers) await worker.waitReady();

    const ids = Array.from({ length: EXECUTIONS }, (_, i) => `ticket-${i}`);
    const sent = new Map<string, Sent[]>(ids.map((id) => [id, []]));
    let accepted = 0;
    const faults = { kills: 0, redisRestarts: 0, postgresRestarts: 0 };
    const timeline: string[] = [];
    const mark = (what: string) =>
      timeline.push(
        `${((Date.now() - startedAt) / 1000).toFixed(1)}s ${what} (${accepted} accepted)`,
      );

    // Faults: a SIGKILL every few seconds; Redis emptied at 30 %, PostgreSQL restarted at 60 %.
    let enqueueDone = false;
    const faultLoop = (async () => {
      let redisDone = false;
      let postgresDone = false;
      let nextKill = Date.now() + KILL_EVERY_MS;
      while (!enqueueDone) {
        if (!redisDone && accepted >= TOTAL_EVENTS * 0.3) {
          redisDone = true;
          mark('redis restart (emptied)');
          await redis.restartEmpty();
          faults.redisRestarts += 1;
          mark('redis back');
        }
        if (!postgresDone && accepted >= TOTAL_EVENTS * 0.6) {
          postgresDone = true;
          mark('postgres restart');
          await postgres.restart();
          faults.postgresRestarts += 1;
          mark('postgres back');
        }
        if (Date.now() >= nextKill) {
          const slot = faults.kills % WORKERS;
          workers[slot]!.signal('SIGKILL');
          await workers[slot]!.exited;
          faults.kills += 1;
          mark(`SIGKILL worker ${slot}`);
          await startWorker(slot);
          nextKill = Date.now() + KILL_EVERY_MS;
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();

    // Enqueue through the API: each lane sends its executions' events in order, round by round.
    const lanes = Array.from({ length: LANES }, (_, lane) =>
      ids.filter((_, i) => i % LANES === lane),
    );
    await Promise.all(
      lanes.map(async (own) => {
        for (const id of own) {
          await post(
            '/v1/executions',
            { workflow: 'ticket-lifecycle', executionId: id },
            [201, 409],
          );
        }
        for (let k = -1; k < COMMENTS; k += 1) {
          for (const id of own) {
            const isAssign = k === -1;
            const text = `${id}#${k}`;
            const body = isAssign
              ? { event: 'assign', payload: { assignee: 'bo' }, idempotencyKey: `${id}:assign` }
              : { event: 'comment', payload: { text }, idempotencyKey: text };
            const answer = (await post(`/v1/executions/${id}/events`, body, [202])) as {
              eventId: string;
              seq: number;
            };
            sent.get(id)!.push({
              eventId: answer.eventId,
              seq: answer.seq,
              event: body.event,
              ...(isAssign ? {} : { text }),
            });
            accepted += 1;
          }
        }
      }),
    );
    enqueueDone = true;
    await faultLoop;
    const enqueuedAt = Date.now();
    mark('enqueue finished');
    expect(accepted).toBe(TOTAL_EVENTS);
    expect(faults.redisRestarts).toBe(1);
    expect(faults.postgresRestarts).toBe(1);

    // Everything settles on its own: no event pending, nothing pending in the group.
    await waitFor(
      'every event to leave pending',
      async () => {
        const [row] = await knex('workflow_events')
          .whereNot({ status: 'applied' })
          .count({ n: '*' });
        return Number(row?.n) === 0;
      },
      { timeoutMs: 180_000, intervalMs: 500 },
    );
    const settledAt = Date.now();
    mark('all applied');
    console.log(`chaos timeline\n${timeline.join('\n')}`);
    const probe = createRedis(redis.url, { maxRetriesPerRequest: 1, connectionName: 'probe' });
    try {
      await waitFor(
        'the consumer group to have nothing pending',
        async () => {
          const summary = (await probe.xpending(STREAM, GROUP)) as [number | string];
          return Number(summary[0]) === 0;
        },
        { timeoutMs: 60_000, intervalMs: 500 },
      );
      expect(await probe.xlen(`${STREAM}:dlq`)).toBe(0);
    } finally {
      probe.disconnect();
    }

    // Exactly once, in order: the log holds each accepted event once, applied, in the order sent.
    const [total] = await knex('workflow_events').count({ n: '*' });
    expect(Number(total?.n)).toBe(TOTAL_EVENTS);
    const store = new PostgresEventStore(knex);
    const registry = new WorkflowRegistry(bundledWorkflows);
    for (const id of ids) {
      const expected = sent.get(id)!;
      const execution = await store.getExecution(TENANT, id);
      expect(execution).toMatchObject({
        state: 'in_progress',
        appliedSeq: COMMENTS + 1,
        status: 'active',
        data: { assignee: 'bo', commentCount: COMMENTS },
      });
      const history = await store.history(TENANT, id, { limit: 10_000 });
      expect(history.map((e) => e.seq)).toEqual(expected.map((_, i) => i + 1));
      expect(history.map((e) => e.eventId)).toEqual(expected.map((s) => s.eventId));
      expect(expected.map((s) => s.seq)).toEqual(expected.map((_, i) => i + 1));
      expect(history.map((e) => (e.payload as { text?: string }).text)).toEqual(
        expected.map((s) => s.text),
      );
      let previous = 'new';
      for (const event of history) {
        expect(event.status).toBe('applied');
        expect(event.fromState).toBe(previous);
        previous = event.toState!;
      }
      // Applied in seq order: applied_at never goes backwards along the log.
      const appliedAt = history.map((e) => e.appliedAt!.getTime());
      expect(appliedAt).toEqual([...appliedAt].sort((a, b) => a - b));
      const report = await verifyExecution(store, registry, TENANT, id);
      expect(report.problems).toEqual([]);
    }
    const processing = (await knex('workflow_event_processing')
      .select('status')
      .min({ least: 'attempt_count' })
      .max({ most: 'attempt_count' })
      .count({ n: '*' })
      .groupBy('status')) as Array<{ status: string; least: number; most: number; n: string }>;
    expect(processing.map((row) => row.status)).toEqual(['completed']);
    expect(Number(processing[0]!.least)).toBeGreaterThanOrEqual(1);

    // Recovered on their own: the API and every worker (restarted or not) answer ready.
    await api.waitReady(60_000);
    for (const worker of workers) await worker.waitReady(60_000);
    expect(api.exit).toBeUndefined();
    const unexpectedExits = everyProcess.filter(
      (child) => child.exit !== undefined && child.exit.signal !== 'SIGKILL',
    );
    expect(unexpectedExits.map((child) => `${child.name}: ${child.tail(10)}`)).toEqual([]);
    // Every line a worker wrote is a JSON log line.
    for (const child of everyProcess.filter((candidate) => candidate !== api)) {
      const plain = child.lines.filter((line) => line.json === undefined);
      expect(plain.map((line) => `${child.name}: ${line.raw}`)).toEqual([]);
    }

    // And they still shut down cleanly.
    for (const child of [...workers, api])
      expect(await child.stop()).toEqual({ code: 0, signal: null });

    const summary = {
      events: TOTAL_EVENTS,
      executions: EXECUTIONS,
      workers: WORKERS,
      kills: faults.kills,
      redisRestarts: faults.redisRestarts,
      postgresRestarts: faults.postgresRestarts,
      enqueueSeconds: Number(((enqueuedAt - startedAt) / 1000).toFixed(1)),
      settleSeconds: Number(((settledAt - enqueuedAt) / 1000).toFixed(1)),
      totalSeconds: Number(((Date.now() - startedAt) / 1000).toFixed(1)),
      attemptCountMax: Number(processing[0]!.most),
    };
    console.log(`chaos summary ${JSON.stringify(summary)}`);
  });
});
