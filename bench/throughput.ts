/**
 * Workload 1 — durable apply throughput. A backlog of N executions × M
 * events; each event must update one PostgreSQL row exactly once. flowpool
 * (its execution row, through catch-up with the fence) with 1, 2 and 4
 * worker processes against BullMQ and graphile-worker (a job per event whose
 * handler bumps the execution's row and records the event id in a ledger,
 * one statement). Runs alternate, round after round.
 */
import { Queue } from 'bullmq';
import { makeWorkerUtils, runMigrations } from 'graphile-worker';
import { Redis } from 'ioredis';
import {
  type BenchEnv,
  counterDelta,
  describeMachine,
  type ServerCounters,
  serverCounters,
  sleep,
} from './lib/env.js';
import { type Child, spawnFlowpoolWorker, spawnScript, stopAll, waitReady } from './lib/procs.js';
import {
  executionId,
  noticesFor,
  preparePeerTables,
  publishNotices,
  seedFlowpoolBacklog,
  truncateFlowpool,
} from './lib/seed.js';
import { fmt, fmtSummary, rounds, summarize, table, writeResult } from './lib/stats.js';

export type System = 'flowpool' | 'flowpool-before' | 'bullmq' | 'graphile-worker';

export interface Shape {
  executions: number;
  perExecution: number;
}

export interface RunResult {
  system: System;
  processes: number;
  shape: Shape;
  round: number;
  events: number;
  /** Events per second from go to the last row update. */
  appliedRate: number;
  /** Events per second from go until every notice or job was acknowledged. */
  drainedRate: number;
  counters: ServerCounters;
}

/**
 * Jobs in flight per peer worker process (BENCH_PEER_CONCURRENCY, default 8,
 * as in the table). flowpool's workers run at their own defaults
 * unless BENCH_WORKER_ENV says otherwise.
 */
const CONCURRENCY = Number(process.env.BENCH_PEER_CONCURRENCY ?? 8);
const TIMEOUT_MS = 300_000;
let runCounter = 0;

async function waitUntil(what: string, check: () => Promise<boolean>, intervalMs = 50) {
  const deadline = Date.now() + TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(intervalMs);
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function lastPeerApply(env: BenchEnv): Promise<number> {
  const r = await env.knex.raw(
    'select extract(epoch from max(applied_at)) * 1000 as t, count(*) as n from bench_applied',
  );
  return Number(r.rows[0].t);
}

async function peerApplied(env: BenchEnv): Promise<number> {
  const r = await env.knex.raw('select count(*) as n from bench_applied');
  return Number(r.rows[0].n);
}

async function checkPeerRows(env: BenchEnv, shape: Shape): Promise<void> {
  const r = await env.knex.raw(
    'select count(*) filter (where n <> ?) as wrong, count(*) as n from bench_rows',
    [shape.perExecution],
  );
  if (Number(r.rows[0].wrong) !== 0)
    throw new Error(`${r.rows[0].wrong} rows not updated exactly M times`);
}

export async function runFlowpool(
  env: BenchEnv,
  shape: Shape,
  processes: number,
  options: { nodeArgs?: string[]; extraEnv?: Record<string, string>; cli?: string } = {},
): Promise<Omit<RunResult, 'round'>> {
  const tenant = 'bench';
  const pool = `tp-${process.pid}-${++runCounter}`;
  const stream = `workflow:events:${pool}`;
  const total = shape.executions * shape.perExecution;
  await truncateFlowpool(env.knex);
  await seedFlowpoolBacklog(env.knex, tenant, shape.executions, shape.perExecution);
  const notices = await noticesFor(env.knex, tenant);
  const workers: Child[] = [];
  for (let i = 0; i < processes; i += 1)
    workers.push(
      await spawnFlowpoolWorker({
        databaseUrl: env.databaseUrl,
        redisUrl: env.redisUrl,
        pool,
        name: `${pool}-w${i}`,
        nodeArgs: options.nodeArgs,
        extraEnv: { ...workerEnvFromBench(), ...options.extraEnv },
        cli: options.cli,
      }),
    );
  try {
    await waitReady(workers);
    const before = await serverCounters(env);
    const go = Date.now();
    await publishNotices(env.redis, stream, tenant, notices);
    await waitUntil('flowpool applied', async () => {
      const r = await env.knex.raw(
        'select coalesce(sum(applied_seq), 0) as s from workflow_executions where tenant = ?',
        [tenant],
      );
      return Number(r.rows[0].s) >= total;
    });
    const last = await env.knex.raw(
      'select extract(epoch from max(applied_at)) * 1000 as t from workflow_events where tenant = ?',
      [tenant],
    );
    const appliedAt = Number(last.rows[0].t);
    await waitUntil('flowpool drained', async () => {
      const groups = (await env.redis.xinfo('GROUPS', stream)) as unknown[][];
      const g = groups[0] as unknown[];
      const field = (name: string) => Number(g[g.indexOf(name) + 1]);
      return field('lag') === 0 && field('pending') === 0;
    });
    const drainedAt = Date.now();
    await sleep(600);
    const after = await serverCounters(env);
    const bad = await env.knex.raw(
      `select count(*) filter (where status <> 'applied') as pending,
              (select count(*) from workflow_executions where tenant = ? and (data->>'commentCount')::int <> ?) as wrong
         from workflow_events where tenant = ?`,
      [tenant, shape.perExecution, tenant],
    );
    if (Number(bad.rows[0].pending) !== 0 || Number(bad.rows[0].wrong) !== 0)
      throw new Error(`flowpool run incorrect: ${JSON.stringify(bad.rows[0])}`);
    return {
      system: options.cli ? 'flowpool-before' : 'flowpool',
      processes,
      shape,
      events: total,
      appliedRate: total / ((appliedAt - go) / 1000),
      drainedRate: total / ((drainedAt - go) / 1000),
      counters: counterDelta(before, after),
    };
  } finally {
    await stopAll(workers);
    await env.redis.del(stream, `${stream}:dlq`);
  }
}

async function runBullmq(env: BenchEnv, shape: Shape, processes: number) {
  const name = `tp-${process.pid}-${++runCounter}`;
  const total = shape.executions * shape.perExecution;
  await preparePeerTables(env.knex, shape.executions);
  const connection = new Redis(env.redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue(name, { connection });
  const workers: Child[] = [];
  try {
    await queue.pause();
    const jobs = [];
    for (let s = 1; s <= shape.perExecution; s += 1)
      for (let i = 0; i < shape.executions; i += 1)
        jobs.push({
          name: 'apply',
          data: { event: `${executionId(i)}:${s}`, execution: executionId(i) },
        });
    for (let i = 0; i < jobs.length; i += 1_000) await queue.addBulk(jobs.slice(i, i + 1_000));
    for (let i = 0; i < processes; i += 1)
      workers.push(
        await spawnScript('peers/bullmq-worker.js', `${name}-w${i}`, {
          REDIS_URL: env.redisUrl,
          DATABASE_URL: env.databaseUrl,
          QUEUE: name,
          CONCURRENCY: String(CONCURRENCY),
        }),
      );
    const before = await serverCounters(env);
    const go = Date.now();
    await queue.resume();
    await waitUntil('bullmq applied', async () => (await peerApplied(env)) >= total);
    const appliedAt = await lastPeerApply(env);
    await waitUntil('bullmq drained', async () => {
      const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
      return Object.values(counts).every((n) => n === 0);
    });
    const drainedAt = Date.now();
    await sleep(600);
    const after = await serverCounters(env);
    await checkPeerRows(env, shape);
    return {
      system: 'bullmq' as const,
      processes,
      shape,
      events: total,
      appliedRate: total / ((appliedAt - go) / 1000),
      drainedRate: total / ((drainedAt - go) / 1000),
      counters: counterDelta(before, after),
    };
  } finally {
    await stopAll(workers);
    await queue.obliterate({ force: true }).catch(() => {});
    await queue.close();
    connection.disconnect();
  }
}

async function runGraphile(env: BenchEnv, shape: Shape, processes: number) {
  const total = shape.executions * shape.perExecution;
  await preparePeerTables(env.knex, shape.executions);
  const utils = await makeWorkerUtils({ connectionString: env.databaseUrl });
  const workers: Child[] = [];
  try {
    for (let i = 0; i < processes; i += 1)
      workers.push(
        await spawnScript('peers/graphile-worker.js', `gw-${++runCounter}-w${i}`, {
          DATABASE_URL: env.databaseUrl,
          CONCURRENCY: String(CONCURRENCY),
        }),
      );
    const specs = [];
    for (let s = 1; s <= shape.perExecution; s += 1)
      for (let i = 0; i < shape.executions; i += 1)
        specs.push({
          identifier: 'bench_apply',
          payload: { event: `${executionId(i)}:${s}`, execution: executionId(i) },
        });
    const before = await serverCounters(env);
    // One call, one transaction: no job is visible before it returns.
    await utils.addJobs(specs);
    const go = Date.now();
    await waitUntil('graphile applied', async () => (await peerApplied(env)) >= total);
    const appliedAt = await lastPeerApply(env);
    await waitUntil('graphile drained', async () => {
      const r = await env.knex.raw('select count(*) as n from graphile_worker.jobs');
      return Number(r.rows[0].n) === 0;
    });
    const drainedAt = Date.now();
    await sleep(600);
    const after = await serverCounters(env);
    await checkPeerRows(env, shape);
    return {
      system: 'graphile-worker' as const,
      processes,
      shape,
      events: total,
      appliedRate: total / ((appliedAt - go) / 1000),
      drainedRate: total / ((drainedAt - go) / 1000),
      counters: counterDelta(before, after),
    };
  } finally {
    await stopAll(workers);
    await utils.release();
  }
}

/**
 * Settings for every flowpool worker of the run, e.g.
 * BENCH_WORKER_ENV='{"WORKFLOW_CONCURRENCY":"32"}' (label the figures).
 */
function workerEnvFromBench(): Record<string, string> {
  const raw = process.env.BENCH_WORKER_ENV;
  if (!raw) return {};
  const parsed = JSON.parse(raw) as unknown;
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new Error('BENCH_WORKER_ENV must be a JSON object of variable names to strings');
  return Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, String(v)]));
}

export const VARIANTS: ReadonlyArray<{ system: System; processes: number }> = [
  { system: 'flowpool', processes: 1 },
  { system: 'bullmq', processes: 1 },
  { system: 'graphile-worker', processes: 1 },
  { system: 'flowpool', processes: 2 },
  { system: 'bullmq', processes: 2 },
  { system: 'graphile-worker', processes: 2 },
  { system: 'flowpool', processes: 4 },
  // Only with BENCH_BEFORE_CLI: the same workers built from an earlier commit, for before/after.
  { system: 'flowpool-before', processes: 1 },
  { system: 'flowpool-before', processes: 2 },
  { system: 'flowpool-before', processes: 4 },
];

export function shapesFromEnv(): Shape[] {
  const raw = process.env.BENCH_SHAPES ?? '200x50,2000x1';
  return raw.split(',').map((s) => {
    const [executions, perExecution] = s.split('x').map(Number);
    return { executions: executions!, perExecution: perExecution! };
  });
}

export async function throughputBench(env: BenchEnv) {
  const shapes = shapesFromEnv();
  const only = process.env.BENCH_SYSTEMS?.split(',');
  const beforeCli = process.env.BENCH_BEFORE_CLI;
  const processes = process.env.BENCH_PROCESSES?.split(',').map(Number);
  const variants = VARIANTS.filter(
    (v) =>
      (!only || only.includes(v.system)) &&
      (!processes || processes.includes(v.processes)) &&
      (v.system !== 'flowpool-before' || beforeCli),
  );
  await runMigrations({ connectionString: env.databaseUrl, logger: undefined });
  const results: RunResult[] = [];
  const n = rounds();
  for (let round = 1; round <= n; round += 1) {
    for (const shape of shapes) {
      for (const v of variants) {
        const run =
          v.system === 'flowpool'
            ? runFlowpool(env, shape, v.processes)
            : v.system === 'flowpool-before'
              ? runFlowpool(env, shape, v.processes, { cli: beforeCli })
              : v.system === 'bullmq'
                ? runBullmq(env, shape, v.processes)
                : runGraphile(env, shape, v.processes);
        const r = { ...(await run), round };
        results.push(r);
        console.error(
          `round ${round} ${shape.executions}x${shape.perExecution} ${v.system}×${v.processes}: ${fmt(r.appliedRate)} ev/s applied, ${fmt(r.drainedRate)} drained, ${(r.counters.commits / r.events).toFixed(2)} commits/ev`,
        );
      }
    }
  }
  const rows: string[][] = [];
  const summary = [];
  for (const shape of shapes) {
    const of = (system: System, processes: number) =>
      results.filter(
        (r) =>
          r.system === system &&
          r.processes === processes &&
          r.shape.executions === shape.executions &&
          r.shape.perExecution === shape.perExecution,
      );
    for (const v of variants) {
      const runs = of(v.system, v.processes);
      const applied = summarize(runs.map((r) => r.appliedRate));
      const drained = summarize(runs.map((r) => r.drainedRate));
      const ratio = (peer: System) => {
        const peerRuns = of(peer, Math.min(v.processes, 2));
        if (!v.system.startsWith('flowpool') || peerRuns.length === 0) return '';
        return `${(applied.median / summarize(peerRuns.map((r) => r.appliedRate)).median).toFixed(2)}×`;
      };
      const per = (f: (c: ServerCounters) => number) =>
        summarize(runs.map((r) => f(r.counters) / r.events)).median.toFixed(2);
      summary.push({ ...v, shape, applied, drained });
      rows.push([
        `${shape.executions}×${shape.perExecution}`,
        v.system,
        String(v.processes),
        fmtSummary(applied),
        fmtSummary(drained),
        ratio('bullmq'),
        ratio('graphile-worker'),
        per((c) => c.commits),
        per((c) => c.redisCalls),
      ]);
    }
  }
  const text = table(
    [
      'executions×events',
      'system',
      'processes',
      'applied events/s median (min–max)',
      'drained events/s',
      'vs BullMQ',
      'vs graphile-worker',
      'PG transactions/event',
      'Redis calls/event',
    ],
    rows,
  );
  console.log(
    `\n## Durable apply throughput (${n} rounds; peers at concurrency ${CONCURRENCY} per process, flowpool ${JSON.stringify(workerEnvFromBench())} over its defaults)\n\n${text}\n`,
  );
  const file = writeResult('throughput', {
    machine: await describeMachine(env),
    concurrencyPerProcess: CONCURRENCY,
    flowpoolWorkerEnv: workerEnvFromBench(),
    summary,
    results,
    table: text,
  });
  console.log(`results: ${file}`);
  return { summary, results };
}
