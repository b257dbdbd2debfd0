/**
 * `npm run bench -- <name|all>`: runs benchmarks on one throwaway PostgreSQL
 * and Redis pair (or DATABASE_URL / REDIS_URL), prints Markdown tables and
 * writes JSON under bench/results/. Never part of the test suite.
 */
import os from 'node:os';
import { autoscaleBench } from './autoscale.js';
import { consoleBench } from './console.js';
import { enqueueBench } from './enqueue.js';
import { historyBench } from './history.js';
import { latencyBench } from './latency.js';
import { type BenchEnv, describeMachine, startEnv } from './lib/env.js';
import { limitsBench } from './limits.js';
import { openLoopBench } from './open-loop.js';
import { operatorBench } from './operator.js';
import { profileBench } from './profile.js';
import { throughputBench } from './throughput.js';

const BENCHES: Record<string, (env: BenchEnv) => Promise<unknown>> = {
  throughput: throughputBench,
  latency: latencyBench,
  openloop: openLoopBench,
  enqueue: enqueueBench,
  limits: limitsBench,
  history: historyBench,
  console: consoleBench,
  autoscale: autoscaleBench,
  operator: operatorBench,
  profile: profileBench,
};

async function main() {
  const names = process.argv.slice(2);
  if (names.length === 0 || names.some((n) => n !== 'all' && !(n in BENCHES))) {
    console.error(`usage: npm run bench -- <${[...Object.keys(BENCHES), 'all'].join('|')}> ...`);
    process.exit(2);
  }
  const selected = names.includes('all')
    ? Object.keys(BENCHES).filter((n) => n !== 'profile')
    : names;
  // Servers and workers inherit this; it keeps other work on a shared machine from skewing rounds.
  try {
    os.setPriority(-10);
  } catch {
    // not permitted: run at normal priority
  }
  const env = await startEnv();
  try {
    console.log(
      JSON.stringify({
        ...(await describeMachine(env)),
        priority: os.getPriority(),
        loadavg: os.loadavg(),
      }),
    );
    for (const name of selected) {
      const started = Date.now();
      await BENCHES[name]!(env);
      console.error(
        `${name}: ${Math.round((Date.now() - started) / 1000)} s, load average ${os
          .loadavg()
          .map((l) => l.toFixed(1))
          .join(' ')}`,
      );
    }
  } finally {
    await env.close();
  }
}

await main();
