/**
 * Workload 5 — autoscaler reaction: from a backlog spike to the scaler's
 * decision, to the replica count changing, and to the new workers being
 * ready, with the local target (LocalAutoscaler + LocalWorkerPool running
 * real `flowpool worker` processes). The Kubernetes target waits for the
 * operator to land.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { LocalAutoscaler } from '../local/local-autoscaler.js';
import { LocalWorkerPool } from '../local/local-worker-pool.js';
import type { ScalerSpec } from '../scaling/types.js';
import { createBacklogRedis, RedisBacklogSource } from '../stream/backlog/index.js';
import { type BenchEnv, CLI, describeMachine, ROOT, sleep } from './lib/env.js';
import { noticesFor, publishNotices, seedFlowpoolBacklog, truncateFlowpool } from './lib/seed.js';
import { fmtSummary, rounds, summarize, table, writeResult } from './lib/stats.js';

// Larger than one worker drains within a poll, so the poll sees it.
const SPIKE = { executions: 10_000, perExecution: 1 };

export function operatorLanded(): boolean {
  try {
    return (
      execFileSync('git', ['log', '--oneline', '--', 'operator/main.ts'], { cwd: ROOT })
        .toString()
        .trim() !== ''
    );
  } catch {
    return false;
  }
}

/** Events each bench worker handles at once: the default of the worker and of a WorkflowWorkerPool. */
const CONCURRENCY = 64;

async function reaction(env: BenchEnv, pollIntervalSeconds: number, round: number) {
  const pool = `as-${process.pid}-${round}-${pollIntervalSeconds}`;
  const stream = `workflow:events:${pool}`;
  const group = 'workflow-workers';
  const tenant = 'bench';
  await truncateFlowpool(env.knex);
  await seedFlowpoolBacklog(env.knex, tenant, SPIKE.executions, SPIKE.perExecution);
  const notices = await noticesFor(env.knex, tenant);
  const workers = new LocalWorkerPool({
    cliPath: CLI,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      DATABASE_URL: env.databaseUrl,
      REDIS_URL: env.redisUrl,
      WORKFLOW_POOL: pool,
      LOG_LEVEL: 'warn',
      WORKFLOW_RELAY_REPUBLISH_AFTER_MS: '600000',
      WORKFLOW_CONCURRENCY: String(CONCURRENCY),
    },
    drainTimeoutMs: 5_000,
    logDir: path.join(ROOT, 'bench/results/autoscale-logs'),
  });
  const spec: ScalerSpec = {
    minReplicas: 1,
    maxReplicas: 4,
    targetBacklogPerReplica: 100,
    activationBacklog: 1,
    pollIntervalSeconds,
    scaleDownStabilizationSeconds: 120,
    scaleToZeroCooldownSeconds: 300,
  };
  const backlogRedis = createBacklogRedis(env.redisUrl);
  let spikeAt = Number.POSITIVE_INFINITY;
  let decidedAt: number | undefined;
  let replicasAt: number | undefined;
  let desired = 1;
  const autoscaler = new LocalAutoscaler({
    source: new RedisBacklogSource(backlogRedis, { includeConsumers: true }),
    stream,
    group,
    spec,
    concurrency: CONCURRENCY,
    target: workers,
    onSample: (sample) => {
      if (decidedAt === undefined && Date.now() >= spikeAt && sample.desired > 1) {
        decidedAt = Date.now();
        desired = sample.desired;
      }
      if (replicasAt === undefined && decidedAt !== undefined && sample.replicas > 1)
        replicasAt = Date.now();
    },
  });
  try {
    await workers.scaleTo(1);
    while ((await workers.readyCount()) < 1) await sleep(100);
    autoscaler.start();
    // Let it settle at one replica, then spike at a random phase of the poll.
    await sleep(pollIntervalSeconds * 1000 + Math.random() * pollIntervalSeconds * 1000);
    spikeAt = Date.now();
    await publishNotices(env.redis, stream, tenant, notices);
    while (decidedAt === undefined && Date.now() - spikeAt < 60_000) await sleep(20);
    let readyAt: number | undefined;
    while (Date.now() - spikeAt < 60_000) {
      if ((await workers.readyCount()) >= desired) {
        readyAt = Date.now();
        break;
      }
      await sleep(50);
    }
    return {
      pollIntervalSeconds,
      round,
      desired,
      decisionMs: (decidedAt ?? Number.NaN) - spikeAt,
      replicasMs: (replicasAt ?? Number.NaN) - spikeAt,
      readyMs: (readyAt ?? Number.NaN) - spikeAt,
    };
  } finally {
    await autoscaler.stop();
    await workers.stopAll();
    backlogRedis.disconnect();
    await env.redis.del(stream);
  }
}

export async function autoscaleBench(env: BenchEnv) {
  const n = rounds();
  const results: Array<Awaited<ReturnType<typeof reaction>>> = [];
  for (let round = 1; round <= n; round += 1)
    for (const poll of [5, 1]) {
      const r = await reaction(env, poll, round);
      results.push(r);
      console.error(
        `round ${round} poll ${poll}s: decision ${r.decisionMs} ms, replicas ${r.replicasMs} ms, ready ${r.readyMs} ms (desired ${r.desired})`,
      );
    }
  const rows = [5, 1].map((poll) => {
    const mine = results.filter((r) => r.pollIntervalSeconds === poll);
    return [
      `local processes, poll ${poll} s${poll === 5 ? ' (default)' : ''}`,
      fmtSummary(summarize(mine.map((r) => r.decisionMs / 1000)), 2),
      fmtSummary(summarize(mine.map((r) => r.replicasMs / 1000)), 2),
      fmtSummary(summarize(mine.map((r) => r.readyMs / 1000)), 2),
    ];
  });
  rows.push([
    'Kubernetes Deployment via the operator',
    operatorLanded() ? 'see `npm run bench -- operator`' : 'pending: the operator has not landed',
    '',
    '',
  ]);
  rows.push([
    'KEDA defaults (reference, documented)',
    '0–30 (polling 30 s)',
    '+0–15 (HPA sync 15 s)',
    'plus pod start',
  ]);
  const text = table(
    [
      'target',
      'spike → decision, s median (min–max)',
      'spike → replicas changed, s',
      'spike → new workers ready, s',
    ],
    rows,
  );
  console.log(
    `\n## Autoscaler reaction (${n} rounds, spike of ${SPIKE.executions} notices, 1 → up to 4 replicas)\n\n${text}\n`,
  );
  const file = writeResult('autoscale', {
    machine: await describeMachine(env),
    results,
    table: text,
  });
  console.log(`results: ${file}`);
  return results;
}
