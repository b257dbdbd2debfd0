/**
 * Workload — enqueue. How fast events get accepted (committed, notice
 * sent), with no workers running, on a durable PostgreSQL (fsync and
 * synchronous_commit on; a cluster of its own when the shared one is not):
 *
 * - 16 concurrent callers, one event per call, for BENCH_ENQUEUE_SECONDS
 *   (default 5): flowpool's client `enqueueEvent`, the same client built
 *   from an earlier commit (BENCH_BEFORE_DIR: a checkout with `npm run
 *   build` done), BullMQ `Queue.add`, graphile-worker `addJob`;
 * - bulk, one caller, BENCH_BULK_EVENTS (default 20,000) in calls of 1,000:
 *   flowpool `enqueueEvents`, BullMQ `addBulk`, graphile-worker `addJobs`;
 *
 * (BENCH_SYSTEMS and BENCH_ENQUEUE_MODES=single,bulk pick some), with
 * PostgreSQL write transactions per event (transaction ids) for
 * each. Systems alternate within every round.
 */
import os from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { makeWorkerUtils, runMigrations } from 'graphile-worker';
import { Redis } from 'ioredis';
import knexFactory from 'knex';
import type { FlowpoolClient } from '../client/index.js';
import { createFlowpoolClient } from '../client/index.js';
import { PostgresServer } from '../local/postgres-server.js';
import { migrateLatest } from '../migrations/index.js';
import { type BenchEnv, describeMachine } from './lib/env.js';
import { executionId, seedFlowpoolBacklog, truncateFlowpool } from './lib/seed.js';
import { fmt, fmtSummary, rounds, summarize, table, writeResult } from './lib/stats.js';

const CALLERS = 16;
const EXECUTIONS = 200;
const CHUNK = 1_000;
const TENANT = 'bench';

type System = 'flowpool' | 'flowpool-before' | 'bullmq' | 'graphile-worker';
type Mode = 'single' | 'bulk';

interface RunResult {
  system: System;
  mode: Mode;
  round: number;
  events: number;
  rate: number;
  transactionsPerEvent: number;
  loadavg: number;
}

type CreateClient = typeof createFlowpoolClient;

/** The durable database this workload measures on: the shared one if durable, else its own. */
async function durableEnv(env: BenchEnv): Promise<{ env: BenchEnv; close(): Promise<void> }> {
  const fsync = await env.knex.raw('show fsync');
  const commit = await env.knex.raw('show synchronous_commit');
  if (fsync.rows[0].fsync === 'on' && commit.rows[0].synchronous_commit !== 'off') {
    return { env, close: async () => {} };
  }
  const server = await PostgresServer.start({ durable: true });
  const knex = knexFactory({ client: 'pg', connection: server.url, pool: { min: 1, max: 5 } });
  await migrateLatest(knex);
  return {
    env: { ...env, databaseUrl: server.url, knex, pgPort: Number(new URL(server.url).port) },
    async close() {
      await knex.destroy();
      await server.destroy();
    },
  };
}

/** Runs `callers` loops of `call` for `seconds`; returns how many calls completed. */
async function closedLoop(
  callers: number,
  seconds: number,
  call: (caller: number, i: number) => Promise<unknown>,
): Promise<{ events: number; elapsedS: number }> {
  const started = performance.now();
  const until = started + seconds * 1000;
  let done = 0;
  await Promise.all(
    Array.from({ length: callers }, async (_, caller) => {
      for (let i = 0; performance.now() < until; i += 1) {
        await call(caller, i);
        done += 1;
      }
    }),
  );
  return { events: done, elapsedS: (performance.now() - started) / 1000 };
}

/** Transaction ids handed out so far: one per transaction that wrote, whoever ran it. */
async function writeTransactions(env: BenchEnv): Promise<number> {
  const r = await env.knex.raw('select pg_current_xact_id()::text::bigint as xid');
  return Number(r.rows[0].xid);
}

/**
 * Runs `work`, then `close`, and counts the transactions that wrote in
 * between by transaction ids (pg_stat_database's commit counter reaches the
 * statistics only when a backend idles or exits, so it would mix in work
 * from before the window). Read-only transactions are not counted; the
 * enqueue paths here read nothing once warm.
 */
async function measured(
  env: BenchEnv,
  work: () => Promise<{ events: number; elapsedS: number }>,
  close: () => Promise<void>,
): Promise<{ events: number; rate: number; transactionsPerEvent: number }> {
  const before = await writeTransactions(env);
  let outcome: { events: number; elapsedS: number };
  try {
    outcome = await work();
  } finally {
    await close();
  }
  const { events, elapsedS } = outcome;
  // Each probe takes a transaction id of its own: the one after `before` is not the system's.
  const after = (await writeTransactions(env)) - 1;
  return {
    events,
    rate: events / elapsedS,
    transactionsPerEvent: (after - before) / events,
  };
}

async function runFlowpool(
  env: BenchEnv,
  create: CreateClient,
  mode: Mode,
  seconds: number,
  bulkEvents: number,
) {
  await truncateFlowpool(env.knex);
  await seedFlowpoolBacklog(env.knex, TENANT, EXECUTIONS, 0);
  const stream = `workflow:events:enq-${process.pid}`;
  const client: FlowpoolClient = create({
    databaseUrl: env.databaseUrl,
    redisUrl: env.redisUrl,
    tenant: TENANT,
    stream,
  });
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await client.close();
  };
  try {
    // One event per execution first, so the client knows each execution's workflow (it caches
    // it), as a running application would.
    await Promise.all(
      Array.from({ length: EXECUTIONS }, (_, i) =>
        client.enqueueEvent({
          executionId: executionId(i),
          event: 'comment',
          payload: { text: 'w' },
        }),
      ),
    );
    return await measured(
      env,
      async () => {
        if (mode === 'single') {
          return closedLoop(CALLERS, seconds, (caller, i) =>
            client.enqueueEvent({
              executionId: executionId((caller * 997 + i) % EXECUTIONS),
              event: 'comment',
              payload: { text: `c${i}` },
            }),
          );
        }
        const started = performance.now();
        for (let at = 0; at < bulkEvents; at += CHUNK) {
          const results = await client.enqueueEvents(
            Array.from({ length: Math.min(CHUNK, bulkEvents - at) }, (_, k) => ({
              executionId: executionId((at + k) % EXECUTIONS),
              event: 'comment',
              payload: { text: `c${at + k}` },
            })),
          );
          const failed = results.find((r) => r.status === 'error');
          if (failed) throw new Error(`bulk enqueue failed: ${JSON.stringify(failed)}`);
        }
        return { events: bulkEvents, elapsedS: (performance.now() - started) / 1000 };
      },
      close,
    );
  } finally {
    await close();
    await env.redis.del(stream);
  }
}

async function runBullmq(env: BenchEnv, mode: Mode, seconds: number, bulkEvents: number) {
  const connection = new Redis(env.redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue(`enq-${process.pid}`, { connection });
  try {
    await queue.waitUntilReady();
    return await measured(
      env,
      async () => {
        if (mode === 'single') {
          return closedLoop(CALLERS, seconds, (caller, i) =>
            queue.add('apply', { execution: executionId((caller * 997 + i) % EXECUTIONS), i }),
          );
        }
        const started = performance.now();
        for (let at = 0; at < bulkEvents; at += CHUNK) {
          await queue.addBulk(
            Array.from({ length: Math.min(CHUNK, bulkEvents - at) }, (_, k) => ({
              name: 'apply',
              data: { execution: executionId((at + k) % EXECUTIONS), i: at + k },
            })),
          );
        }
        return { events: bulkEvents, elapsedS: (performance.now() - started) / 1000 };
      },
      async () => {},
    );
  } finally {
    await queue.obliterate({ force: true }).catch(() => {});
    await queue.close();
    connection.disconnect();
  }
}

async function runGraphile(env: BenchEnv, mode: Mode, seconds: number, bulkEvents: number) {
  const utils = await makeWorkerUtils({ connectionString: env.databaseUrl });
  let released = false;
  const release = async () => {
    if (released) return;
    released = true;
    await utils.release();
  };
  try {
    return await measured(
      env,
      async () => {
        if (mode === 'single') {
          return closedLoop(CALLERS, seconds, (caller, i) =>
            utils.addJob('bench_apply', {
              execution: executionId((caller * 997 + i) % EXECUTIONS),
              i,
            }),
          );
        }
        const started = performance.now();
        for (let at = 0; at < bulkEvents; at += CHUNK) {
          await utils.addJobs(
            Array.from({ length: Math.min(CHUNK, bulkEvents - at) }, (_, k) => ({
              identifier: 'bench_apply',
              payload: { execution: executionId((at + k) % EXECUTIONS), i: at + k },
            })),
          );
        }
        return { events: bulkEvents, elapsedS: (performance.now() - started) / 1000 };
      },
      release,
    );
  } finally {
    await release();
    await env.knex.raw('delete from graphile_worker._private_jobs');
  }
}

export async function enqueueBench(shared: BenchEnv) {
  const durable = await durableEnv(shared);
  const env = durable.env;
  const seconds = Number(process.env.BENCH_ENQUEUE_SECONDS ?? 5);
  const bulkEvents = Number(process.env.BENCH_BULK_EVENTS ?? 20_000);
  const beforeDir = process.env.BENCH_BEFORE_DIR;
  const createBefore: CreateClient | undefined = beforeDir
    ? (
        (await import(path.resolve(beforeDir, 'dist/client/index.js'))) as {
          createFlowpoolClient: CreateClient;
        }
      ).createFlowpoolClient
    : undefined;
  await runMigrations({ connectionString: env.databaseUrl, logger: undefined });
  const results: RunResult[] = [];
  const only = process.env.BENCH_SYSTEMS?.split(',');
  const modes = process.env.BENCH_ENQUEUE_MODES?.split(',');
  const all: Array<{ system: System; mode: Mode }> = [
    ...(createBefore ? [{ system: 'flowpool-before' as const, mode: 'single' as const }] : []),
    { system: 'flowpool', mode: 'single' },
    { system: 'bullmq', mode: 'single' },
    { system: 'graphile-worker', mode: 'single' },
    ...(createBefore ? [{ system: 'flowpool-before' as const, mode: 'bulk' as const }] : []),
    { system: 'flowpool', mode: 'bulk' },
    { system: 'bullmq', mode: 'bulk' },
    { system: 'graphile-worker', mode: 'bulk' },
  ];
  const runs = all.filter(
    (run) => (!only || only.includes(run.system)) && (!modes || modes.includes(run.mode)),
  );
  try {
    console.log(JSON.stringify({ ...(await describeMachine(env)), workload: 'enqueue' }));
    const n = rounds();
    for (let round = 1; round <= n; round += 1) {
      for (const { system, mode } of runs) {
        const loadavg = os.loadavg()[0]!;
        const r =
          system === 'flowpool'
            ? await runFlowpool(env, createFlowpoolClient, mode, seconds, bulkEvents)
            : system === 'flowpool-before'
              ? await runFlowpool(env, createBefore!, mode, seconds, bulkEvents)
              : system === 'bullmq'
                ? await runBullmq(env, mode, seconds, bulkEvents)
                : await runGraphile(env, mode, seconds, bulkEvents);
        results.push({ system, mode, round, loadavg, ...r });
        console.error(
          `round ${round} ${mode} ${system}: ${fmt(r.rate)} ev/s, ${r.transactionsPerEvent.toFixed(2)} tx/ev, load ${loadavg.toFixed(1)}`,
        );
      }
    }
    const rows = runs.map(({ system, mode }) => {
      const mine = results.filter((r) => r.system === system && r.mode === mode);
      const label =
        mode === 'single'
          ? `${CALLERS} callers × 1 event`
          : `bulk, calls of ${fmt(CHUNK)} (${fmt(bulkEvents)} events)`;
      return [
        system,
        label,
        fmtSummary(summarize(mine.map((r) => r.rate))),
        fmtSummary(summarize(mine.map((r) => r.transactionsPerEvent)), 2),
        fmtSummary(summarize(mine.map((r) => r.loadavg)), 1),
      ];
    });
    const text = table(
      ['system', 'calls', 'events/s', 'PG write transactions per event', 'load average (1 min)'],
      rows,
    );
    console.log(`\n## Enqueue (${n} rounds, durable PostgreSQL)\n\n${text}\n`);
    console.error(`wrote ${writeResult('enqueue', { results })}`);
    return results;
  } finally {
    await durable.close();
  }
}
