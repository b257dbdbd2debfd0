import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import knexFactory, { type Knex } from 'knex';
import logUpdate from 'log-update';
import type { Env } from '../core/config/parse.js';
import { redactUrl } from '../core/redact.js';
import { DEFAULT_CONSUMER_GROUP, DEFAULT_STREAM } from '../core/stream-names.js';
import { migrateLatest } from '../migrations/index.js';
import type { ScalerSpec } from '../scaling/types.js';
import { createBacklogRedis } from '../stream/backlog/connection.js';
import { RedisBacklogSource } from '../stream/backlog/redis-backlog-source.js';
import { scalingChartSvg } from './chart.js';
import { DemoLoad } from './demo-load.js';
import { readLiveStats } from './dev-stats.js';
import { LocalAutoscaler, type ScalingSample } from './local-autoscaler.js';
import { LocalWorkerPool, type WorkerExit } from './local-worker-pool.js';
import { PostgresServer } from './postgres-server.js';
import { freePort, waitFor } from './process.js';
import { RedisServer } from './redis-server.js';

export interface DevOptions {
  demo: boolean;
  dataDir: string;
  maxWorkers: number;
  /** Events per demo burst. */
  burst: number;
  port: number;
  out: (line: string) => void;
}

/** The scaling policy of the local pool: the operator's, with short windows so a demo fits in minutes. */
export function devScalerSpec(maxWorkers: number): ScalerSpec {
  return {
    minReplicas: 0,
    maxReplicas: maxWorkers,
    targetBacklogPerReplica: 100,
    activationBacklog: 1,
    pollIntervalSeconds: 1,
    scaleDownStabilizationSeconds: 8,
    scaleToZeroCooldownSeconds: 12,
  };
}

interface Servers {
  databaseUrl: string;
  redisUrl: string;
  stop(): Promise<void>;
}

async function startServers(
  env: Env,
  dataDir: string,
  out: (line: string) => void,
): Promise<Servers> {
  const postgres = env.DATABASE_URL
    ? undefined
    : await PostgresServer.start({ dir: path.join(dataDir, 'postgres'), durable: true });
  const redis = env.REDIS_URL
    ? undefined
    : await RedisServer.start({ dir: path.join(dataDir, 'redis') });
  const databaseUrl = env.DATABASE_URL ?? postgres!.url;
  const redisUrl = env.REDIS_URL ?? redis!.url;
  // Given URLs may carry passwords; the terminal and its scrollback are no place for them.
  out(
    `PostgreSQL  ${redactUrl(databaseUrl)}${postgres ? ` (data in ${path.join(dataDir, 'postgres')})` : ''}`,
  );
  out(`Redis       ${redactUrl(redisUrl)}`);
  return {
    databaseUrl,
    redisUrl,
    stop: async () => {
      await Promise.all([postgres?.stop(), redis?.stop()]);
    },
  };
}

function startApi(cliPath: string, env: Env, logDir: string): ChildProcess {
  const log = fs.openSync(path.join(logDir, 'api.log'), 'a');
  const child = spawn(process.execPath, [cliPath, 'api'], { env, stdio: ['ignore', log, log] });
  fs.closeSync(log);
  return child;
}

function render(
  sample: ScalingSample | undefined,
  stats: Awaited<ReturnType<typeof readLiveStats>> | undefined,
  phase: string,
) {
  const bar = (n: number) => '█'.repeat(Math.min(40, n));
  return [
    `flowpool dev — ${phase}`,
    `  backlog     ${String(sample?.backlog ?? '?').padStart(6)} (${sample?.lagSource ?? 'unknown'})`,
    `  replicas    ${String(sample?.replicas ?? 0).padStart(6)} ${bar(sample?.replicas ?? 0)}  desired ${sample?.desired ?? 0} (${sample?.reason ?? '-'})`,
    `  events/s    ${String(stats?.appliedPerSecond ?? 0).padStart(6)}`,
    `  p99 latency ${String(stats?.p99LatencyMs ?? '-').padStart(6)} ms`,
    `  dead        ${String(stats?.deadLetters ?? 0).padStart(6)}`,
  ].join('\n');
}

/** Events each local worker process handles at once: the worker's own default. */
const DEV_CONCURRENCY = 64;

/**
 * `flowpool dev`: PostgreSQL and Redis from local programs (or the given
 * URLs), migrations, the API, and a pool of worker processes sized by the
 * operator's policy. With --demo it sends bursts of events, shows the pool
 * scale, then checks every event was applied exactly once.
 */
export async function runDev(env: Env, options: DevOptions): Promise<number> {
  const out = options.out;
  const logDir = path.join(options.dataDir, 'logs');
  fs.mkdirSync(logDir, { recursive: true });
  const cliPath = fileURLToPath(new URL('../cli/main.js', import.meta.url));
  const servers = await startServers(env, options.dataDir, out);
  const knex: Knex = knexFactory({
    client: 'pg',
    connection: servers.databaseUrl,
    pool: { min: 0, max: 4 },
  });
  await migrateLatest(knex);
  const port = options.port || (await freePort());
  // A fresh token each run: a fixed one would be known to anyone who read the docs.
  const token = randomBytes(24).toString('base64url');
  const childEnv: Env = {
    DATABASE_URL: servers.databaseUrl,
    REDIS_URL: servers.redisUrl,
    FLOWPOOL_API_TOKENS: JSON.stringify({ [token]: 'dev' }),
    WORKFLOW_DRAIN_TIMEOUT_MS: '10000',
    WORKFLOW_CONCURRENCY: String(DEV_CONCURRENCY),
    LOG_LEVEL: env.LOG_LEVEL ?? 'info',
    ...(env.FLOWPOOL_WORKFLOWS ? { FLOWPOOL_WORKFLOWS: env.FLOWPOOL_WORKFLOWS } : {}),
  };
  // Loopback only: the local API is for this machine's user, not its network.
  const api = startApi(cliPath, { ...childEnv, PORT: String(port), HOST: '127.0.0.1' }, logDir);
  const apiUrl = `http://127.0.0.1:${port}`;
  await waitFor(
    'the API to be ready',
    async () => (await fetch(`${apiUrl}/readyz`)).status === 200,
    { timeoutMs: 30_000 },
  );
  out(`API         ${apiUrl}  (Authorization: Bearer ${token})`);
  // The token rides in the fragment: browsers never send it to the server or in a Referer,
  // and the console moves it to sessionStorage and off the address bar at once.
  out(`Console     ${apiUrl}/console/#token=${token}`);
  out(`Logs        ${logDir}`);

  const pool = new LocalWorkerPool({ cliPath, env: childEnv, drainTimeoutMs: 10_000, logDir });
  const backlogRedis = createBacklogRedis(servers.redisUrl);
  const source = new RedisBacklogSource(backlogRedis, { includeConsumers: true });
  let latest: ScalingSample | undefined;
  const autoscaler = new LocalAutoscaler({
    source,
    stream: DEFAULT_STREAM,
    group: DEFAULT_CONSUMER_GROUP,
    spec: devScalerSpec(options.maxWorkers),
    concurrency: DEV_CONCURRENCY,
    target: pool,
    onSample: (sample) => {
      latest = sample;
    },
  });
  autoscaler.start();

  let phase = 'idle: waiting for events';
  let stats: Awaited<ReturnType<typeof readLiveStats>> | undefined;
  const interactive = process.stdout.isTTY === true;
  let lastPrinted = 0;
  const view = setInterval(async () => {
    stats = await readLiveStats(knex).catch(() => stats);
    const frame = render(latest, stats, phase);
    if (interactive) logUpdate(frame);
    else if (Date.now() - lastPrinted >= 5_000) {
      lastPrinted = Date.now();
      out(frame);
    }
  }, 1_000);

  const shutdown = async () => {
    clearInterval(view);
    if (interactive) logUpdate.done();
    await autoscaler.stop();
    await pool.stopAll();
    api.kill('SIGTERM');
    await new Promise((resolve) => api.once('exit', resolve));
    backlogRedis.disconnect();
    await knex.destroy();
    await servers.stop();
  };

  if (!options.demo) {
    out('Running. Press Ctrl-C to stop.');
    await new Promise<void>((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    });
    await shutdown();
    return 0;
  }

  const result = await runDemo({
    apiUrl,
    token,
    autoscaler,
    pool,
    options,
    setPhase: (p) => (phase = p),
    knex,
  });
  await shutdown();
  for (const line of result.lines) out(line);
  return result.ok ? 0 : 1;
}

interface DemoContext {
  apiUrl: string;
  token: string;
  autoscaler: LocalAutoscaler;
  pool: LocalWorkerPool;
  options: DevOptions;
  knex: Knex;
  setPhase: (phase: string) => void;
}

interface BurstTimes {
  label: string;
  started: number;
  drained: number;
  atZero: number;
}

/** Waits for the backlog to drain and the pool to reach zero; returns when each happened. */
async function settle(
  ctx: DemoContext,
  label: string,
): Promise<{ drained: number; atZero: number }> {
  ctx.setPhase(`${label}: draining the backlog`);
  await waitFor(
    'the backlog to drain',
    async () => {
      const rows = await ctx.knex('workflow_events').where({ status: 'pending' }).count({ n: '*' });
      return Number(rows[0]?.n) === 0;
    },
    { timeoutMs: 600_000, intervalMs: 250 },
  );
  const drained = Date.now();
  ctx.setPhase(`${label}: scaling down to zero`);
  await waitFor('the pool to scale to zero', () => ctx.pool.replicas === 0, {
    timeoutMs: 600_000,
    intervalMs: 250,
  });
  return { drained, atZero: Date.now() };
}

function describeBurst(burst: BurstTimes, samples: readonly ScalingSample[]): string {
  const during = samples.filter((s) => s.at >= burst.started && s.at <= burst.atZero);
  const firstUp = during.find((s) => s.replicas > 0);
  const peak = Math.max(0, ...during.map((s) => s.replicas));
  const peakAt = during.find((s) => s.replicas === peak);
  const secs = (ms: number | undefined) => (ms === undefined ? '-' : `${(ms / 1000).toFixed(1)} s`);
  return `  ${burst.label.padEnd(8)} first worker ${secs(firstUp && firstUp.at - burst.started)}, peak ${peak} after ${secs(
    peakAt && peakAt.at - burst.started,
  )}, drained after ${secs(burst.drained - burst.started)}, zero workers ${secs(burst.atZero - burst.drained)} later`;
}

async function runDemo(ctx: DemoContext): Promise<{ ok: boolean; lines: string[] }> {
  const load = new DemoLoad(ctx.apiUrl, ctx.token);
  const started = Date.now();
  ctx.setPhase('starting 100 executions');
  const ids = await load.createExecutions(100);
  const bursts: BurstTimes[] = [];
  for (const label of ['burst 1', 'burst 2']) {
    ctx.setPhase(`${label}: sending ${ctx.options.burst} events`);
    const burstStarted = Date.now();
    await load.burst(ids, ctx.options.burst);
    bursts.push({ label, started: burstStarted, ...(await settle(ctx, label)) });
  }
  const checked = await load.check();
  // Stop polling first, so the tick that scaled to zero is in the timeline.
  await ctx.autoscaler.stop();
  const samples = ctx.autoscaler.samples.filter((s) => s.at >= started);
  const chartPath = path.join(
    ctx.options.dataDir,
    `demo-${new Date(started).toISOString().replace(/[:.]/g, '-')}.svg`,
  );
  fs.writeFileSync(
    chartPath,
    scalingChartSvg(samples, 'flowpool dev --demo: backlog and replicas'),
  );
  fs.writeFileSync(chartPath.replace(/\.svg$/, '.json'), JSON.stringify(samples, null, 2));
  const ok =
    load.tally.accepted > 0 &&
    checked.lost === 0 &&
    checked.duplicates === 0 &&
    load.tally.refused === 0;
  const exits = ctx.pool.exits;
  const accepts = [...load.tally.acceptLatenciesMs].sort((a, b) => a - b);
  const p99Accept = accepts[Math.floor(accepts.length * 0.99)] ?? 0;
  return {
    ok,
    lines: [
      '',
      'Summary',
      `  events accepted      ${load.tally.accepted}  (refused ${load.tally.refused}, p99 202 latency ${Math.round(p99Accept)} ms)`,
      `  events applied       ${checked.applied}`,
      `  duplicates           ${checked.duplicates}`,
      `  lost                 ${checked.lost}`,
      `  peak replicas        ${Math.max(0, ...samples.map((s) => s.replicas))}`,
      ...bursts.map((burst) => describeBurst(burst, samples)),
      `  workers stopped      ${exits.length}, drained cleanly ${exits.filter((e) => e.drained).length}`,
      ...exits.filter((e) => !e.drained).map(describeUncleanExit),
      `  chart                ${chartPath}`,
      ok ? 'Every accepted event was applied exactly once.' : 'MISMATCH: see the counts above.',
    ],
  };
}

/** A worker that did not drain: how it ended says why (its log, in the logs folder, says more). */
function describeUncleanExit(exit: WorkerExit): string {
  const how = exit.signal ? `killed by ${exit.signal}` : `exit code ${exit.code}`;
  return `    ${exit.name} did not drain: ${how} (see its log)`;
}
