/**
 * Workload 2 — latency. enqueue → applied at a fixed offered rate (half the
 * measured end-to-end maximum), with the application enqueueing through the
 * runtime in-process and `flowpool worker` processes applying; and the
 * API's 202 latency under autocannon (`flowpool api`), at full load and at
 * half of it.
 */
import { spawn } from 'node:child_process';
// autocannon ships no types; bench/lib/autocannon.d.ts declares what is used.
import autocannon from 'autocannon';
import { freePort, waitFor } from '../local/process.js';
import { type BenchEnv, CLI, describeMachine, ROOT, sleep } from './lib/env.js';
import { type Child, spawnFlowpoolWorker, stopAll, waitReady } from './lib/procs.js';
import { benchRuntime } from './lib/runtime.js';
import { executionId, seedFlowpoolBacklog, truncateFlowpool } from './lib/seed.js';
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

const EXECUTIONS = 200;
const PRODUCERS = 16;
const MAX_SECONDS = 8;
const FIXED_SECONDS = 10;
let counter = 0;

function runtimeFor(env: BenchEnv, pool: string) {
  return benchRuntime(env, `workflow:events:${pool}`);
}

async function waitApplied(env: BenchEnv, tenant: string, total: number) {
  await waitFor(
    'events applied',
    async () => {
      const r = await env.knex.raw(
        'select coalesce(sum(applied_seq), 0) as s from workflow_executions where tenant = ?',
        [tenant],
      );
      return Number(r.rows[0].s) >= total;
    },
    { timeoutMs: 300_000, intervalMs: 100 },
  );
}

interface E2E {
  maxRate: number;
  offeredRate: number;
  achievedRate: number;
  enqueueMs: { p50: number; p95: number; p99: number };
  appliedMs: { p50: number; p95: number; p99: number };
}

/** Closed loop for the maximum, then open loop at half of it. */
async function endToEnd(env: BenchEnv, workers: number, fraction: number): Promise<E2E> {
  const pool = `lat-${process.pid}-${++counter}`;
  const tenant = 'bench';
  await truncateFlowpool(env.knex);
  await seedFlowpoolBacklog(env.knex, tenant, EXECUTIONS, 0);
  const runtime = runtimeFor(env, pool);
  const children: Child[] = [];
  for (let i = 0; i < workers; i += 1)
    children.push(
      await spawnFlowpoolWorker({
        databaseUrl: env.databaseUrl,
        redisUrl: env.redisUrl,
        pool,
        name: `${pool}-w${i}`,
      }),
    );
  try {
    await waitReady(children);
    let sent = 0;
    const enqueue = (i: number) =>
      runtime.service.enqueueEvent({
        tenant,
        executionId: executionId(i % EXECUTIONS),
        event: 'comment',
        payload: { text: `m${i}` },
      });
    // Closed loop: as fast as PRODUCERS callers can go.
    const started = performance.now();
    const until = started + MAX_SECONDS * 1000;
    await Promise.all(
      Array.from({ length: PRODUCERS }, async () => {
        while (performance.now() < until) await enqueue(sent++);
      }),
    );
    await waitApplied(env, tenant, sent);
    const maxRate = sent / ((performance.now() - started) / 1000);
    const appliedAfterMax = sent;
    // Catch-up applied the closed loop's events in batches; the notices left
    // over must be acknowledged too, or the open loop would queue behind them.
    await waitFor(
      'the stream drained',
      async () => {
        const groups = (await env.redis.xinfo('GROUPS', `workflow:events:${pool}`)) as unknown[][];
        const g = groups[0] ?? [];
        const field = (name: string) => Number(g[g.indexOf(name) + 1]);
        return field('lag') === 0 && field('pending') === 0;
      },
      { timeoutMs: 300_000, intervalMs: 100 },
    );
    // Open loop at a fixed rate: each send is due at its slot, whatever the previous did.
    // BENCH_LATENCY_RATE pins the offered rate (to compare builds at the same load).
    const pinned = Number(process.env.BENCH_LATENCY_RATE ?? 0);
    const offeredRate = pinned > 0 ? pinned : Math.max(1, Math.round(maxRate * fraction));
    const count = offeredRate * FIXED_SECONDS;
    const due: number[] = [];
    const enqueueMs: number[] = [];
    const ids: string[] = [];
    const t0 = Date.now() + 50;
    const sends: Promise<void>[] = [];
    for (let k = 0; k < count; k += 1) {
      const at = t0 + (k * 1000) / offeredRate;
      const wait = at - Date.now();
      if (wait > 0) await sleep(wait);
      const sentAt = Date.now();
      due.push(at);
      sends.push(
        enqueue(sent++).then((r) => {
          enqueueMs[k] = Date.now() - sentAt;
          ids[k] = r.eventId;
        }),
      );
    }
    await Promise.all(sends);
    const achievedRate = count / ((Date.now() - t0) / 1000);
    await waitApplied(env, tenant, appliedAfterMax + count);
    const rows = await env.knex.raw(
      `select event_id, extract(epoch from applied_at) * 1000 as t from workflow_events where tenant = ? and event_id = any(?::uuid[])`,
      [tenant, ids],
    );
    const appliedAt = new Map<string, number>(
      rows.rows.map((r: { event_id: string; t: string }) => [r.event_id, Number(r.t)]),
    );
    const latencies = sorted(ids.map((id, k) => (appliedAt.get(id) ?? Number.NaN) - due[k]!));
    const enq = sorted(enqueueMs);
    const pick = (a: number[]) => ({
      p50: percentile(a, 50),
      p95: percentile(a, 95),
      p99: percentile(a, 99),
    });
    return { maxRate, offeredRate, achievedRate, enqueueMs: pick(enq), appliedMs: pick(latencies) };
  } finally {
    await stopAll(children);
    await env.redis.del(`workflow:events:${pool}`);
  }
}

interface ApiRun {
  mode: string;
  rate: number;
  p50: number;
  p90: number;
  p97_5: number;
  p99: number;
  non2xx: number;
  errors: number;
}

async function apiLatency(env: BenchEnv): Promise<ApiRun[]> {
  const pool = `api-${process.pid}-${++counter}`;
  const tenant = 'bench';
  await truncateFlowpool(env.knex);
  await seedFlowpoolBacklog(env.knex, tenant, EXECUTIONS, 0);
  const port = await freePort();
  const api = spawn(process.execPath, [CLI, 'api'], {
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      DATABASE_URL: env.databaseUrl,
      REDIS_URL: env.redisUrl,
      WORKFLOW_POOL: pool,
      PORT: String(port),
      LOG_LEVEL: 'warn',
      FLOWPOOL_API_TOKENS: JSON.stringify({ 'bench-token': tenant }),
    },
    stdio: 'ignore',
    cwd: ROOT,
  });
  const worker = await spawnFlowpoolWorker({
    databaseUrl: env.databaseUrl,
    redisUrl: env.redisUrl,
    pool,
    name: `${pool}-w0`,
  });
  try {
    await waitReady([worker]);
    await waitFor(
      'api ready',
      async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200,
      {
        timeoutMs: 30_000,
        intervalMs: 100,
      },
    );
    let n = 0;
    const fire = (overallRate?: number) =>
      autocannon({
        url: `http://127.0.0.1:${port}`,
        connections: 16,
        duration: 10,
        ...(overallRate ? { overallRate } : {}),
        requests: [
          {
            method: 'POST',
            headers: { authorization: 'Bearer bench-token', 'content-type': 'application/json' },
            setupRequest: (req: Record<string, unknown>) => {
              n += 1;
              return {
                ...req,
                path: `/v1/executions/${executionId(n % EXECUTIONS)}/events`,
                body: JSON.stringify({ event: 'comment', payload: { text: `a${n}` } }),
              };
            },
          },
        ],
      });
    const full = await fire();
    const half = await fire(Math.max(1, Math.round(full.requests.average / 2)));
    const view = (mode: string, r: autocannon.Result): ApiRun => ({
      mode,
      rate: r.requests.average,
      p50: r.latency.p50,
      p90: r.latency.p90,
      p97_5: r.latency.p97_5,
      p99: r.latency.p99,
      non2xx: r.non2xx,
      errors: r.errors,
    });
    return [
      view('16 connections, as fast as possible', full),
      view('fixed rate, half of that', half),
    ];
  } finally {
    api.kill('SIGTERM');
    await stopAll([worker]);
    await new Promise((resolve) =>
      api.exitCode !== null ? resolve(null) : api.once('exit', resolve),
    );
    await env.redis.del(`workflow:events:${pool}`);
  }
}

export async function latencyBench(env: BenchEnv) {
  const n = rounds();
  const runs: Array<E2E & { round: number; workers: number }> = [];
  const apiRuns: Array<ApiRun & { round: number }> = [];
  for (let round = 1; round <= n; round += 1) {
    for (const workers of [1, 2]) {
      const r = await endToEnd(env, workers, 0.5);
      runs.push({ ...r, round, workers });
      console.error(
        `round ${round} workers ${workers}: max ${fmt(r.maxRate)}/s, at ${r.offeredRate}/s applied p50 ${fmt(r.appliedMs.p50)} p99 ${fmt(r.appliedMs.p99)} ms`,
      );
    }
    if (process.env.BENCH_LATENCY_API === '0') continue;
    for (const r of await apiLatency(env)) {
      apiRuns.push({ ...r, round });
      console.error(
        `round ${round} api ${r.mode}: ${fmt(r.rate)} req/s p50 ${r.p50} p99 ${r.p99} ms`,
      );
    }
  }
  const e2eRows = [1, 2].map((workers) => {
    const mine = runs.filter((r) => r.workers === workers);
    const s = (f: (r: E2E) => number, d = 0) => fmtSummary(summarize(mine.map(f)), d);
    return [
      String(workers),
      s((r) => r.maxRate),
      s((r) => r.offeredRate),
      s((r) => r.enqueueMs.p50, 1),
      s((r) => r.enqueueMs.p99, 1),
      s((r) => r.appliedMs.p50),
      s((r) => r.appliedMs.p95),
      s((r) => r.appliedMs.p99),
    ];
  });
  const e2e = table(
    [
      'worker processes',
      'max enqueue→applied events/s (16 callers)',
      process.env.BENCH_LATENCY_RATE ? 'offered events/s (pinned)' : 'offered events/s (50%)',
      'enqueue p50 ms',
      'enqueue p99 ms',
      'enqueue→applied p50 ms',
      'p95 ms',
      'p99 ms',
    ],
    e2eRows,
  );
  const modes = [...new Set(apiRuns.map((r) => r.mode))];
  const apiTable = table(
    [
      'API POST …/events (202)',
      'req/s',
      'p50 ms',
      'p90 ms',
      'p97.5 ms',
      'p99 ms',
      'non-2xx',
      'errors',
    ],
    modes.map((mode) => {
      const mine = apiRuns.filter((r) => r.mode === mode);
      const s = (f: (r: ApiRun) => number) => fmtSummary(summarize(mine.map(f)));
      return [
        mode,
        s((r) => r.rate),
        s((r) => r.p50),
        s((r) => r.p90),
        s((r) => r.p97_5),
        s((r) => r.p99),
        s((r) => r.non2xx),
        s((r) => r.errors),
      ];
    }),
  );
  console.log(`\n## Latency (${n} rounds)\n\n${e2e}\n\n${apiTable}\n`);
  const file = writeResult('latency', {
    machine: await describeMachine(env),
    runs,
    apiRuns,
    tables: [e2e, apiTable],
  });
  console.log(`results: ${file}`);
  return { runs, apiRuns };
}
