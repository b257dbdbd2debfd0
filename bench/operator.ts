/**
 * Workload 6 — operator footprint, and the Kubernetes half of workload 5:
 * `flowpool operator` (a child process) against a throwaway kube-apiserver
 * with 1, 100 and 500 pools — time from a pool's creation to its
 * Deployment, resident memory and CPU once settled — and the time from a
 * backlog spike to the Deployment's replicas changing.
 */

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, waitFor } from '../local/process.js';
import { workflowWorkerPoolCrd } from '../operator/api/crd.js';
import { API_VERSION, GROUP, KIND, PLURAL, VERSION } from '../operator/api/pool.js';
import { KubeApiServer } from '../test/support/kube-apiserver.js';
import { type BenchEnv, CLI, describeMachine, ROOT, sleep } from './lib/env.js';
import { type Child, stopAll } from './lib/procs.js';
import { fmt, percentile, rounds, sorted, table, writeResult } from './lib/stats.js';

/** The binaries test/tools/build.sh caches (the bench runs from dist, away from its go.mod). */
function kubeBinaries(): { kubeApiserver: string; etcd: string } {
  const cache =
    process.env.FLOWPOOL_TOOLS_CACHE ?? path.join(os.homedir(), '.cache/flowpool-test-tools');
  for (const version of fs.existsSync(cache) ? fs.readdirSync(cache) : []) {
    const bin = path.join(cache, version, 'bin');
    if (fs.existsSync(path.join(bin, 'kube-apiserver')) && fs.existsSync(path.join(bin, 'etcd')))
      return { kubeApiserver: path.join(bin, 'kube-apiserver'), etcd: path.join(bin, 'etcd') };
  }
  throw new Error(`kube-apiserver and etcd not found under ${cache}: run test/tools/build.sh`);
}

function procStats(pid: number): { rssMiB: number; cpuMs: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  const ticks = Number(stat[11]) + Number(stat[12]);
  return { rssMiB: rss, cpuMs: (ticks * 1000) / 100 };
}

function pool(name: string, redisUrl: string, stream: string, pollIntervalSeconds = 5) {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name },
    spec: {
      image: 'flowpool:0.1.0',
      redis: { url: redisUrl, stream },
      database: { urlSecretRef: { name: 'flowpool-db', key: 'url' } },
      autoscaling: {
        enabled: true,
        minReplicas: 1,
        maxReplicas: 10,
        targetBacklogPerReplica: 100,
        pollIntervalSeconds,
      },
    },
  };
}

async function startOperator(
  kube: KubeApiServer,
  namespace: string,
): Promise<Child & { port: number }> {
  const port = await freePort();
  const child = spawn(process.execPath, [CLI, 'operator'], {
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      KUBECONFIG: kube.kubeconfigPath,
      WATCH_NAMESPACE: namespace,
      LEADER_ELECTION: 'false',
      PORT: String(port),
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: ROOT,
  });
  const output: string[] = [];
  child.stdout?.on('data', (c: Buffer) => output.push(c.toString()));
  child.stderr?.on('data', (c: Buffer) => output.push(c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  await waitFor(
    `operator ready ${output.join('')}`,
    async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200,
    { timeoutMs: 60_000, intervalMs: 100 },
  );
  return { name: 'operator', child, port, exited, output };
}

async function footprint(env: BenchEnv, kube: KubeApiServer, count: number) {
  const namespace = `bench-${count}`;
  await kube.request('POST', '/api/v1/namespaces', {
    body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } },
  });
  const operator = await startOperator(kube, namespace);
  try {
    const idle = procStats(operator.child.pid!);
    const created = new Map<string, number>();
    const seen = new Map<string, number>();
    const poolsPath = `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${PLURAL}`;
    const watcher = (async () => {
      while (seen.size < count) {
        const answer = await kube.request<{ items: Array<{ metadata: { name: string } }> }>(
          'GET',
          `/apis/apps/v1/namespaces/${namespace}/deployments`,
        );
        const now = Date.now();
        for (const item of answer.body.items ?? [])
          if (!seen.has(item.metadata.name)) seen.set(item.metadata.name, now);
        await sleep(100);
      }
    })();
    const names = Array.from({ length: count }, (_, i) => `pool-${String(i).padStart(3, '0')}`);
    for (let i = 0; i < names.length; i += 20) {
      await Promise.all(
        names.slice(i, i + 20).map(async (name) => {
          created.set(name, Date.now());
          const answer = await kube.request('POST', poolsPath, {
            body: pool(name, env.redisUrl, `workflow:events:opb-${count}-${name}`),
          });
          if (answer.status !== 201)
            throw new Error(`pool ${name}: ${JSON.stringify(answer.body)}`);
        }),
      );
    }
    const allCreated = Date.now();
    await Promise.race([watcher, sleep(300_000)]);
    const latencies = sorted(names.map((n) => (seen.get(n) ?? Number.NaN) - created.get(n)!));
    const lastDeployment = Math.max(...seen.values());
    // Settled: every pool polled a few times. Memory now, CPU over the next 20 s.
    await sleep(15_000);
    const settled = procStats(operator.child.pid!);
    await sleep(20_000);
    const later = procStats(operator.child.pid!);
    return {
      pools: count,
      deployments: seen.size,
      reconcileMs: {
        p50: percentile(latencies, 50),
        p99: percentile(latencies, 99),
        max: latencies.at(-1) ?? Number.NaN,
      },
      allDeploymentsAfterLastCreateMs: lastDeployment - allCreated,
      idleRssMiB: idle.rssMiB,
      settledRssMiB: settled.rssMiB,
      steadyCpuPercent: ((later.cpuMs - settled.cpuMs) / 20_000) * 100,
    };
  } finally {
    await stopAll([operator], 10_000);
  }
}

/** Spike a pool's stream and time the Deployment's replicas changing. */
async function deploymentReaction(env: BenchEnv, kube: KubeApiServer, round: number) {
  const namespace = `react-${round}`;
  await kube.request('POST', '/api/v1/namespaces', {
    body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } },
  });
  const stream = `workflow:events:react-${process.pid}-${round}`;
  await env.redis.xgroup('CREATE', stream, 'workflow-workers', '$', 'MKSTREAM');
  const operator = await startOperator(kube, namespace);
  try {
    await kube.request('POST', `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${PLURAL}`, {
      body: pool('spiky', env.redisUrl, stream),
    });
    const replicas = async () => {
      const answer = await kube.request<{ spec?: { replicas?: number } }>(
        'GET',
        `/apis/apps/v1/namespaces/${namespace}/deployments/spiky`,
      );
      return answer.status === 200 ? (answer.body.spec?.replicas ?? 1) : undefined;
    };
    await waitFor('the Deployment at one replica', async () => (await replicas()) === 1, {
      timeoutMs: 60_000,
      intervalMs: 100,
    });
    await sleep(5_000 + Math.random() * 5_000);
    const spikeAt = Date.now();
    const pipeline = env.redis.pipeline();
    for (let i = 0; i < 1_000; i += 1)
      pipeline.xadd(stream, '*', 'tenant', 't', 'execution', `x${i}`);
    await pipeline.exec();
    let changedAt = Number.NaN;
    let to = 1;
    while (Date.now() - spikeAt < 60_000) {
      const now = await replicas();
      if (now !== undefined && now > 1) {
        changedAt = Date.now();
        to = now;
        break;
      }
      await sleep(50);
    }
    return { round, replicasMs: changedAt - spikeAt, to };
  } finally {
    await stopAll([operator], 10_000);
    await env.redis.del(stream);
  }
}

export async function operatorBench(env: BenchEnv) {
  const kube = await KubeApiServer.start({ binaries: kubeBinaries() });
  try {
    const created = await kube.request(
      'POST',
      '/apis/apiextensions.k8s.io/v1/customresourcedefinitions',
      {
        body: workflowWorkerPoolCrd(),
      },
    );
    if (created.status !== 201) throw new Error(`CRD: ${JSON.stringify(created.body)}`);
    await waitFor('the pool API', async () => {
      const answer = await kube.request('GET', `/apis/${GROUP}/${VERSION}/${PLURAL}`);
      return answer.status === 200;
    });
    const reactions = [];
    for (let round = 1; round <= rounds(); round += 1) {
      const r = await deploymentReaction(env, kube, round);
      reactions.push(r);
      console.error(`deployment reaction round ${round}: ${r.replicasMs} ms to ${r.to} replicas`);
    }
    const footprints = [];
    const counts = (process.env.BENCH_OPERATOR_POOLS ?? '1,100,500').split(',').map(Number);
    for (const count of counts) {
      const f = await footprint(env, kube, count);
      footprints.push(f);
      console.error(`footprint ${count}: ${JSON.stringify(f)}`);
    }
    const reactionTable = table(
      ['target', 'spike → Deployment replicas changed, s (each round)'],
      [
        [
          'operator, test kube-apiserver, poll 5 s',
          reactions.map((r) => (r.replicasMs / 1000).toFixed(2)).join(', '),
        ],
      ],
    );
    const footprintTable = table(
      [
        'pools',
        'create → Deployment p50 ms',
        'p99 ms',
        'max ms',
        'RSS idle MiB',
        'RSS settled MiB',
        'CPU settled %',
      ],
      footprints.map((f) => [
        String(f.pools),
        fmt(f.reconcileMs.p50),
        fmt(f.reconcileMs.p99),
        fmt(f.reconcileMs.max),
        fmt(f.idleRssMiB),
        fmt(f.settledRssMiB),
        f.steadyCpuPercent.toFixed(1),
      ]),
    );
    console.log(`\n## Operator\n\n${reactionTable}\n\n${footprintTable}\n`);
    const file = writeResult('operator', {
      machine: await describeMachine(env),
      reactions,
      footprints,
      tables: [reactionTable, footprintTable],
    });
    console.log(`results: ${file}`);
    return { reactions, footprints };
  } finally {
    await kube.destroy();
  }
}
