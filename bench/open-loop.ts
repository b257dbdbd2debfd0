/**
 * Workload 2b — open loop on a freshly started pool. Each system's workers
 * (2 processes; the peers at concurrency 8, flowpool at its defaults) start, then events arrive at a fixed rate,
 * one at a time, spread over many executions, each sent at its slot whatever
 * the previous did. Latency runs from the slot to the row update
 * (`applied_at`); it is also given per second of the run, because a pool
 * that falls behind while it warms up shows there and not in the totals.
 * flowpool's application enqueues in-process through the runtime (what an
 * embedding application does); BullMQ adds a job per event, graphile-worker
 * adds a job per event.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { makeWorkerUtils, runMigrations } from 'graphile-worker';
import { Redis } from 'ioredis';
import { waitFor } from '../local/process.js';
import { summarizeProfile } from './lib/cpuprofile.js';
import {
  type BenchEnv,
  counterDelta,
  describeMachine,
  ROOT,
  type ServerCounters,
  serverCounters,
  sleep,
} from './lib/env.js';
import { type Child, spawnFlowpoolWorker, spawnScript, stopAll, waitReady } from './lib/procs.js';
import { benchRuntime } from './lib/runtime.js';
import {
  executionId,
  preparePeerTables,
  seedFlowpoolBacklog,
  truncateFlowpool,
} from './lib/seed.js';
import {
  fmt,
  fmtSummary,
  percentile,
  rounds,
  sorted,
  summarize,
  table,
  writeResult,
} from './lib/stats.js';

type System = 'flowpool' | 'flowpool-before' | 'bullmq' | 'graphile-worker';

const PROCESSES = 2;
const CONCURRENCY = 8;
/** A run's events are all applied long before this, at any rate the bench offers. */
const UNTIL_APPLIED = { timeoutMs: 300_000, intervalMs: 100 };
let counter = 0;

interface Settings {
  rate: number;
  seconds: number;
  executions: number;
}

function settingsFromEnv(): Settings {
  return {
    rate: Number(process.env.BENCH_OPEN_RATE ?? 340),
    seconds: Number(process.env.BENCH_OPEN_SECONDS ?? 20),
    executions: Number(process.env.BENCH_OPEN_EXECUTIONS ?? 2000),
  };
}

export interface OpenLoopRun {
  system: System;
  round: number;
  offered: number;
  /** Slot → applied, ms. */
  p50: number;
  p90: number;
  p99: number;
  /** The enqueue call (add for the peers), ms. */
  enqueueP50: number;
  enqueueP99: number;
  /** Per second of the run (by slot): p50 and p99 of slot → applied. */
  perSecond: Array<{ p50: number; p99: number }>;
  /** flowpool only: per second of the run, the workers' CPU (ms, all processes) and events applied. */
  workerSeconds?: Array<{ cpuMs: number; applied: number }>;
  /**
   * flowpool only: where the latency is, from the rows' own clocks
   * (`created_at` is the enqueue statement's start, `applied_at` the apply
   * statement's): slot → enqueue statement, enqueue statement → apply
   * statement; p50 and p99, ms.
   */
  stages?: { slotToEnqueue: [number, number]; enqueueToApply: [number, number] };
  transactionsPerEvent: number;
  /** Machine CPU busy during the run (all cores), percent. */
  cpuPercent: number;
  counters: ServerCounters;
}

function cpuTimes(): { busy: number; total: number } {
  let busy = 0;
  let total = 0;
  for (const cpu of os.cpus()) {
    const t = cpu.times;
    const all = t.user + t.nice + t.sys + t.idle + t.irq;
    busy += all - t.idle;
    total += all;
  }
  return { busy, total };
}

/** Sends `count` events at `rate`, each at its slot; returns the slots and the call durations. */
async function sendAtRate(
  settings: Settings,
  send: (k: number) => Promise<string>,
): Promise<{ due: number[]; ids: string[]; callMs: number[] }> {
  const count = settings.rate * settings.seconds;
  const due: number[] = [];
  const ids: string[] = [];
  const callMs: number[] = [];
  const t0 = Date.now() + 50;
  const sends: Promise<void>[] = [];
  for (let k = 0; k < count; k += 1) {
    const at = t0 + (k * 1000) / settings.rate;
    const wait = at - Date.now();
    if (wait > 0) await sleep(wait);
    const sentAt = Date.now();
    due.push(at);
    sends.push(
      send(k).then((id) => {
        callMs[k] = Date.now() - sentAt;
        ids[k] = id;
      }),
    );
  }
  await Promise.all(sends);
  return { due, ids, callMs };
}

function summarise(
  system: System,
  round: number,
  settings: Settings,
  sent: { due: number[]; ids: string[]; callMs: number[] },
  appliedAt: Map<string, number>,
  counters: ServerCounters,
  cpuPercent: number,
): OpenLoopRun {
  const latency = sent.ids.map((id, k) => (appliedAt.get(id) ?? Number.NaN) - sent.due[k]!);
  const all = sorted(latency);
  const perSecond: Array<{ p50: number; p99: number }> = [];
  for (let s = 0; s < settings.seconds; s += 1) {
    const second = sorted(latency.slice(s * settings.rate, (s + 1) * settings.rate));
    perSecond.push({ p50: percentile(second, 50), p99: percentile(second, 99) });
  }
  const calls = sorted(sent.callMs);
  const events = sent.ids.length;
  return {
    system,
    round,
    offered: settings.rate,
    p50: percentile(all, 50),
    p90: percentile(all, 90),
    p99: percentile(all, 99),
    enqueueP50: percentile(calls, 50),
    enqueueP99: percentile(calls, 99),
    perSecond,
    transactionsPerEvent: counters.commits / events,
    cpuPercent,
    counters,
  };
}

function p50p99(values: number[]): [number, number] {
  const s = sorted(values);
  return [percentile(s, 50), percentile(s, 99)];
}

function stagesOf(
  sent: { due: number[]; ids: string[] },
  createdAt: Map<string, number>,
  appliedAt: Map<string, number>,
): NonNullable<OpenLoopRun['stages']> {
  const created = sent.ids.map((id) => createdAt.get(id) ?? Number.NaN);
  return {
    slotToEnqueue: p50p99(created.map((c, k) => c - sent.due[k]!)),
    enqueueToApply: p50p99(
      sent.ids.map((id, k) => (appliedAt.get(id) ?? Number.NaN) - created[k]!),
    ),
  };
}

function printProfile(dir: string): void {
  const file = fs.readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) return;
  const summary = summarizeProfile(path.join(dir, file));
  console.error(
    `  profile ${path.join(dir, file)}: busy ${fmt(summary.busyMs)} of ${fmt(summary.wallMs)} ms\n${table(
      ['function', 'area', 'self ms', 'share'],
      summary.topFunctions.map((f) => [f.fn, f.area, fmt(f.ms), `${(f.share * 100).toFixed(1)}%`]),
    )}\n${table(
      ['area', 'self ms', 'share'],
      summary.byArea.slice(0, 14).map((a) => [a.area, fmt(a.ms), `${(a.share * 100).toFixed(1)}%`]),
    )}`,
  );
}

/** utime + stime of a process, in ms (Linux /proc). */
function processCpuMs(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return 0;
  }
}

/** Samples the workers' CPU once a second until stopped. */
function sampleCpu(workers: readonly Child[]): () => number[] {
  const total = () => workers.reduce((sum, w) => sum + processCpuMs(w.child.pid), 0);
  const samples: number[] = [];
  let last = total();
  const timer = setInterval(() => {
    const now = total();
    samples.push(now - last);
    last = now;
  }, 1_000);
  return () => {
    clearInterval(timer);
    return samples;
  };
}

async function runFlowpool(
  env: BenchEnv,
  settings: Settings,
  round: number,
  cli?: string,
): Promise<OpenLoopRun> {
  const pool = `open-${process.pid}-${++counter}`;
  const tenant = 'bench';
  await truncateFlowpool(env.knex);
  await seedFlowpoolBacklog(env.knex, tenant, settings.executions, 0);
  const runtime = benchRuntime(env, `workflow:events:${pool}`);
  // BENCH_OPEN_PROFILE=1: each worker under --cpu-prof; the first profile is summarised.
  const profileDir =
    process.env.BENCH_OPEN_PROFILE === '1'
      ? path.join(ROOT, 'bench/results/profiles', `open-loop-${Date.now()}`)
      : undefined;
  const workers: Child[] = [];
  for (let i = 0; i < PROCESSES; i += 1)
    workers.push(
      await spawnFlowpoolWorker({
        databaseUrl: env.databaseUrl,
        redisUrl: env.redisUrl,
        pool,
        name: `${pool}-w${i}`,
        cli,
        nodeArgs: profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : undefined,
      }),
    );
  try {
    await waitReady(workers);
    const before = await serverCounters(env);
    const cpu = cpuTimes();
    const stopSampling = sampleCpu(workers);
    const started = Date.now();
    const sent = await sendAtRate(settings, async (k) => {
      const r = await runtime.service.enqueueEvent({
        tenant,
        executionId: executionId(k % settings.executions),
        event: 'comment',
        payload: { text: `o${k}` },
      });
      return r.eventId;
    });
    await waitFor(
      'flowpool applied',
      async () => {
        const r = await env.knex.raw(
          `select count(*) as n from workflow_events where tenant = ? and status = 'applied'`,
          [tenant],
        );
        return Number(r.rows[0].n) >= sent.ids.length;
      },
      UNTIL_APPLIED,
    );
    const cpuAfter = cpuTimes();
    const cpuSamples = stopSampling();
    await sleep(600);
    const counters = counterDelta(before, await serverCounters(env));
    const rows = await env.knex.raw(
      `select event_id, extract(epoch from applied_at) * 1000 as t,
              extract(epoch from created_at) * 1000 as c
         from workflow_events where tenant = ?`,
      [tenant],
    );
    const appliedAt = new Map<string, number>(
      rows.rows.map((r: { event_id: string; t: string }) => [r.event_id, Number(r.t)]),
    );
    const createdAt = new Map<string, number>(
      rows.rows.map((r: { event_id: string; c: string }) => [r.event_id, Number(r.c)]),
    );
    const appliedPerSecond = cpuSamples.map(() => 0);
    for (const t of appliedAt.values()) {
      const second = Math.floor((t - started) / 1000);
      if (second >= 0 && second < appliedPerSecond.length) appliedPerSecond[second]! += 1;
    }
    return {
      ...summarise(
        cli ? 'flowpool-before' : 'flowpool',
        round,
        settings,
        sent,
        appliedAt,
        counters,
        (100 * (cpuAfter.busy - cpu.busy)) / (cpuAfter.total - cpu.total),
      ),
      workerSeconds: cpuSamples.map((cpuMs, i) => ({ cpuMs, applied: appliedPerSecond[i]! })),
      stages: stagesOf(sent, createdAt, appliedAt),
    };
  } finally {
    await stopAll(workers);
    await env.redis.del(`workflow:events:${pool}`, `workflow:events:${pool}:dlq`);
    if (profileDir) printProfile(profileDir);
  }
}

async function peerAppliedAt(env: BenchEnv): Promise<Map<string, number>> {
  const rows = await env.knex.raw(
    'select event_id, extract(epoch from applied_at) * 1000 as t from bench_applied',
  );
  return new Map(rows.rows.map((r: { event_id: string; t: string }) => [r.event_id, Number(r.t)]));
}

async function waitPeerApplied(env: BenchEnv, total: number): Promise<void> {
  await waitFor(
    'peer applied',
    async () => {
      const r = await env.knex.raw('select count(*) as n from bench_applied');
      return Number(r.rows[0].n) >= total;
    },
    UNTIL_APPLIED,
  );
}

/**
 * One peer's open-loop run once its workers are up: a job per event at the
 * offered rate, wait until the ledger has them all, then the figures.
 */
async function measurePeer(
  env: BenchEnv,
  system: System,
  settings: Settings,
  round: number,
  add: (job: { event: string; execution: string }) => Promise<unknown>,
): Promise<OpenLoopRun> {
  const before = await serverCounters(env);
  const cpu = cpuTimes();
  const sent = await sendAtRate(settings, async (k) => {
    const execution = executionId(k % settings.executions);
    const event = `${execution}:${k}`;
    await add({ event, execution });
    return event;
  });
  await waitPeerApplied(env, sent.ids.length);
  const cpuAfter = cpuTimes();
  await sleep(600);
  const counters = counterDelta(before, await serverCounters(env));
  return summarise(
    system,
    round,
    settings,
    sent,
    await peerAppliedAt(env),
    counters,
    (100 * (cpuAfter.busy - cpu.busy)) / (cpuAfter.total - cpu.total),
  );
}

async function runBullmq(env: BenchEnv, settings: Settings, round: number): Promise<OpenLoopRun> {
  const name = `open-${process.pid}-${++counter}`;
  await preparePeerTables(env.knex, settings.executions);
  const connection = new Redis(env.redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue(name, { connection });
  const workers: Child[] = [];
  try {
    for (let i = 0; i < PROCESSES; i += 1)
      workers.push(
        await spawnScript('peers/bullmq-worker.js', `${name}-w${i}`, {
          REDIS_URL: env.redisUrl,
          DATABASE_URL: env.databaseUrl,
          QUEUE: name,
          CONCURRENCY: String(CONCURRENCY),
        }),
      );
    return await measurePeer(env, 'bullmq', settings, round, (job) => queue.add('apply', job));
  } finally {
    await stopAll(workers);
    await queue.obliterate({ force: true }).catch(() => {});
    await queue.close();
    connection.disconnect();
  }
}

async function runGraphile(env: BenchEnv, settings: Settings, round: number): Promise<OpenLoopRun> {
  await preparePeerTables(env.knex, settings.executions);
  const utils = await makeWorkerUtils({ connectionString: env.databaseUrl });
  const workers: Child[] = [];
  try {
    for (let i = 0; i < PROCESSES; i += 1)
      workers.push(
        await spawnScript('peers/graphile-worker.js', `gw-open-${++counter}-w${i}`, {
          DATABASE_URL: env.databaseUrl,
          CONCURRENCY: String(CONCURRENCY),
        }),
      );
    return await measurePeer(env, 'graphile-worker', settings, round, (job) =>
      utils.addJob('bench_apply', job),
    );
  } finally {
    await stopAll(workers);
    await utils.release();
  }
}

export async function openLoopBench(env: BenchEnv) {
  const settings = settingsFromEnv();
  const beforeCli = process.env.BENCH_BEFORE_CLI;
  const only = process.env.BENCH_SYSTEMS?.split(',');
  const systems = (['flowpool', 'flowpool-before', 'bullmq', 'graphile-worker'] as const).filter(
    (s) => (!only || only.includes(s)) && (s !== 'flowpool-before' || beforeCli),
  );
  await runMigrations({ connectionString: env.databaseUrl, logger: undefined });
  const runs: OpenLoopRun[] = [];
  const n = rounds();
  for (let round = 1; round <= n; round += 1) {
    for (const system of systems) {
      const run =
        system === 'flowpool'
          ? await runFlowpool(env, settings, round)
          : system === 'flowpool-before'
            ? await runFlowpool(env, settings, round, beforeCli)
            : system === 'bullmq'
              ? await runBullmq(env, settings, round)
              : await runGraphile(env, settings, round);
      runs.push(run);
      console.error(
        `round ${round} ${system}: at ${settings.rate}/s p50 ${fmt(run.p50)} p99 ${fmt(run.p99)} ms, enqueue p50 ${fmt(run.enqueueP50, 1)} p99 ${fmt(run.enqueueP99, 1)} ms, ${run.transactionsPerEvent.toFixed(2)} tx/ev, CPU ${fmt(run.cpuPercent)} %; per-second p50 ${run.perSecond
          .slice(0, 12)
          .map((s) => fmt(s.p50))
          .join(' ')}`,
      );
      if (run.stages)
        console.error(
          `  stages p50/p99 ms: slot→enqueue statement ${run.stages.slotToEnqueue.map((v) => fmt(v, 1)).join('/')}, enqueue statement→apply statement ${run.stages.enqueueToApply.map((v) => fmt(v, 1)).join('/')}`,
        );
      if (run.workerSeconds)
        console.error(
          `  workers per second (CPU ms / events applied): ${run.workerSeconds
            .slice(0, 14)
            .map((w) => `${fmt(w.cpuMs)}/${w.applied}`)
            .join(' ')}`,
        );
    }
  }
  const rows = systems.map((system) => {
    const mine = runs.filter((r) => r.system === system);
    const s = (f: (r: OpenLoopRun) => number, d = 0) => fmtSummary(summarize(mine.map(f)), d);
    return [
      system,
      s((r) => r.p50, 1),
      s((r) => r.p90),
      s((r) => r.p99),
      s((r) => r.enqueueP50, 1),
      s((r) => r.enqueueP99, 1),
      s((r) => Math.max(...r.perSecond.slice(0, 12).map((p) => p.p50))),
      s((r) => r.transactionsPerEvent, 2),
      s((r) => r.cpuPercent),
    ];
  });
  const text = table(
    [
      `system (${PROCESSES} processes; peers × ${CONCURRENCY}, flowpool at its defaults)`,
      'slot→applied p50 ms',
      'p90 ms',
      'p99 ms',
      'enqueue p50 ms',
      'enqueue p99 ms',
      'worst per-second p50 in the first 12 s, ms',
      'PG transactions/event',
      'machine CPU %',
    ],
    rows,
  );
  console.log(
    `\n## Open loop on a fresh pool (${settings.rate} events/s for ${settings.seconds} s over ${settings.executions} executions, ${n} rounds)\n\n${text}\n`,
  );
  const file = writeResult('open-loop', {
    machine: await describeMachine(env),
    settings,
    runs,
    table: text,
  });
  console.log(`results: ${file}`);
  return runs;
}
