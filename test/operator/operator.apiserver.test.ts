/**
 * The whole operator: leader election between two in-process operators,
 * and the real `flowpool operator` program as a child process.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../local/process.js';
import type { OperatorConfig } from '../../operator/config.js';
import { type RunningOperator, startOperator } from '../../operator/main.js';
import { OperatorMetrics } from '../../operator/metrics.js';
import { UNRESTRICTED_POLICY } from '../../operator/render/policy.js';
import { childEnv, FlowpoolProcess } from '../process/support.js';
import { type TestRedis, testRedis } from '../support/isolation.js';
import type { KubeApiServer } from '../support/kube-apiserver.js';
import {
  addEntries,
  createNamespace,
  createPool,
  getDeployment,
  poolManifest,
  startKube,
  testLogger,
  waitForReplicas,
} from './support.js';

const LEASE_NS = 'flowpool-system';
const GROUP = 'workflow-workers';

let kube: KubeApiServer;
let redis: TestRedis;

beforeAll(async () => {
  [kube, redis] = await Promise.all([startKube(), testRedis()]);
  await createNamespace(kube, LEASE_NS);
});

afterAll(async () => {
  await redis?.close();
  await kube?.destroy();
});

interface Lease {
  spec?: { holderIdentity?: string; leaseDurationSeconds?: number };
}

async function lease(name: string): Promise<Lease | undefined> {
  const answer = await kube.request<Lease>(
    'GET',
    `/apis/coordination.k8s.io/v1/namespaces/${LEASE_NS}/leases/${name}`,
  );
  return answer.status === 200 ? answer.body : undefined;
}

function config(identity: string, namespace: string, leaseName: string): OperatorConfig {
  return {
    kube: { kind: 'file', path: kube.kubeconfigPath },
    watchNamespace: namespace,
    port: 0,
    logLevel: 'silent',
    leaderElection: true,
    leaseNamespace: LEASE_NS,
    leaseName,
    identity,
    resyncSeconds: 300,
    leaseDurationSeconds: 15,
    renewDeadlineSeconds: 10,
    retryPeriodSeconds: 2,
    leaseCreate: true,
    podDeletionCost: true,
    podPolicy: UNRESTRICTED_POLICY,
  };
}

async function readyz(port: number): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`http://127.0.0.1:${port}/readyz`);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function metricsText(port: number): Promise<string> {
  return (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
}

describe('leader election', () => {
  const NS = 'election';
  const operators: RunningOperator[] = [];

  afterAll(async () => {
    await Promise.all(operators.map((operator) => operator.stop()));
  });

  it('runs the controllers only in the leader; the standby takes over when the leader stops', async () => {
    await createNamespace(kube, NS);
    const start = (identity: string) =>
      startOperator(config(identity, NS, 'election-test'), {
        logger: testLogger(),
        kubeConfig: kube.kubeConfig(),
        metrics: new OperatorMetrics(false),
        lease: { leaseDurationMs: 3_000, renewDeadlineMs: 2_000, retryPeriodMs: 300 },
      });
    const first = await start('operator-a');
    operators.push(first);
    await waitFor('operator-a to lead', () => first.isLeader(), { timeoutMs: 10_000 });
    const second = await start('operator-b');
    operators.push(second);
    await waitFor('a synced leader', () => first.controller?.synced === true);

    // The leader does the work...
    const stream = `${redis.prefix}workflow:events:elected`;
    await redis.redis.xgroup('CREATE', stream, GROUP, '0', 'MKSTREAM');
    await createPool(kube, NS, poolManifest('elected', redis.url, stream));
    await waitForReplicas(kube, NS, 'elected', 1);
    expect((await lease('election-test'))?.spec?.holderIdentity).toBe('operator-a');

    // ...while the other stays passive: no controller, yet ready to take over.
    expect(second.isLeader()).toBe(false);
    expect(second.controller).toBeUndefined();
    expect(await readyz(second.port)).toMatchObject({
      status: 200,
      body: { checks: { leader: 'standby' } },
    });
    expect(await metricsText(second.port)).toMatch(/^flowpool_operator_leader 0$/m);
    expect(await metricsText(first.port)).toMatch(/^flowpool_operator_leader 1$/m);
    expect(await readyz(first.port)).toMatchObject({
      status: 200,
      body: { checks: { leader: 'leading', watches: 'ok' } },
    });

    // The leader stops (and releases its Lease): the standby leads and scales.
    await first.stop();
    expect(first.isLeader()).toBe(false);
    await waitFor('operator-b to lead', () => second.isLeader(), { timeoutMs: 10_000 });
    expect((await lease('election-test'))?.spec?.holderIdentity).toBe('operator-b');
    await addEntries(redis.redis, stream, 25);
    await waitForReplicas(kube, NS, 'elected', 3, 10_000);
    expect(await metricsText(second.port)).toMatch(/^flowpool_operator_leader 1$/m);
  });
});

describe('flowpool operator (the program)', () => {
  const NS = 'program';
  let operator: FlowpoolProcess | undefined;

  afterAll(async () => {
    await operator?.stop('SIGKILL');
  });

  it('runs from KUBECONFIG, scales a pool, serves its endpoints and releases its Lease on SIGTERM', async () => {
    await createNamespace(kube, NS);
    operator = await FlowpoolProcess.start(
      'operator',
      ['operator'],
      childEnv({
        KUBECONFIG: kube.kubeconfigPath,
        WATCH_NAMESPACE: NS,
        LEASE_NAMESPACE: LEASE_NS,
        LEASE_NAME: 'program-test',
        POD_NAME: 'operator-0',
        LOG_LEVEL: 'info',
      }),
    );
    await operator.waitReady();
    await waitFor(
      `the operator to lead\n${operator.tail()}`,
      async () => /^flowpool_operator_leader 1$/m.test(await operator!.metrics()),
      { timeoutMs: 30_000 },
    );
    expect((await operator.get('/healthz')).status).toBe(200);

    const stream = `${redis.prefix}workflow:events:program`;
    await redis.redis.xgroup('CREATE', stream, GROUP, '0', 'MKSTREAM');
    const pool = await createPool(kube, NS, poolManifest('program', redis.url, stream));
    await waitForReplicas(kube, NS, 'program', 1, 15_000);
    const deployment = await getDeployment(kube, NS, 'program');
    expect(deployment?.metadata?.ownerReferences?.[0]?.uid).toBe(pool.metadata.uid);

    await addEntries(redis.redis, stream, 41);
    const reactionMs = await waitForReplicas(kube, NS, 'program', 5, 2_000);
    console.log(`program: backlog → Deployment replicas changed in ${reactionMs} ms`);
    // The backlog gauge is set at the poll, the desired one at the reconcile after it.
    await waitFor('per-pool metrics', async () => {
      const scraped = await operator!.metrics();
      return (
        /flowpool_operator_pool_backlog\{namespace="program",pool="program"\} 41/.test(scraped) &&
        /flowpool_operator_pool_desired_replicas\{namespace="program",pool="program"\} 5/.test(
          scraped,
        )
      );
    });
    const text = await operator.metrics();
    expect(text).toMatch(
      /flowpool_operator_pool_desired_replicas\{namespace="program",pool="program"\} 5/,
    );
    expect(text).toContain('flowpool_operator_reconcile_duration_seconds_bucket');
    expect(text).toMatch(/flowpool_operator_reconcile_total\{result="success"\} [1-9]/);
    expect((await lease('program-test'))?.spec?.holderIdentity).toBe('operator-0');

    const exit = await operator.stop('SIGTERM');
    expect(exit, operator.tail()).toEqual({ code: 0, signal: null });
    // Released, so a successor need not wait out the lease.
    expect((await lease('program-test'))?.spec?.holderIdentity ?? '').toBe('');
  });

  it('a second operator stays passive until the lease of a killed leader runs out', async () => {
    const namespace = 'handover';
    await createNamespace(kube, namespace);
    const env = (pod: string) =>
      childEnv({
        KUBECONFIG: kube.kubeconfigPath,
        WATCH_NAMESPACE: namespace,
        LEASE_NAMESPACE: LEASE_NS,
        LEASE_NAME: 'handover-test',
        POD_NAME: pod,
        LOG_LEVEL: 'info',
        LEASE_DURATION_SECONDS: '4',
        LEASE_RENEW_DEADLINE_SECONDS: '3',
        LEASE_RETRY_PERIOD_SECONDS: '1',
      });
    const leading = async (child: FlowpoolProcess) =>
      /^flowpool_operator_leader 1$/m.test(await child.metrics());
    const leader = await FlowpoolProcess.start('operator-0', ['operator'], env('operator-0'));
    let standby: FlowpoolProcess | undefined;
    try {
      await waitFor(`operator-0 to lead\n${leader.tail()}`, () => leading(leader), {
        timeoutMs: 30_000,
      });
      standby = await FlowpoolProcess.start('operator-1', ['operator'], env('operator-1'));
      await standby.waitReady();
      // The standby watches the leader renew a few times and stays passive.
      const renewals = new Set<string>();
      await waitFor(
        'three renewals by operator-0',
        async () => {
          const current = await lease('handover-test');
          const spec = current?.spec as { holderIdentity?: string; renewTime?: string };
          if (spec?.holderIdentity === 'operator-0' && spec.renewTime) renewals.add(spec.renewTime);
          if (await leading(standby!)) {
            throw new Error(
              `standby leads; lease ${JSON.stringify(current)}\n--- leader\n${leader.tail(40)}\n--- standby\n${standby!.tail(40)}`,
            );
          }
          return renewals.size >= 3;
        },
        { timeoutMs: 15_000, intervalMs: 100 },
      );

      // Killed: no release, so the standby must wait for the lease to run out.
      const killedAt = Date.now();
      await leader.stop('SIGKILL');
      await waitFor(`operator-1 to lead\n${standby!.tail()}`, () => leading(standby!), {
        timeoutMs: 20_000,
        intervalMs: 100,
      });
      const takeoverMs = Date.now() - killedAt;
      console.log(`standby took over ${takeoverMs} ms after the leader was killed (lease 4 s)`);
      // At most one retry period (1 s) passed between the last renewal and the kill.
      expect(takeoverMs).toBeGreaterThanOrEqual(2_500);
      expect((await lease('handover-test'))?.spec?.holderIdentity).toBe('operator-1');

      // And it does the work.
      const stream = `${redis.prefix}workflow:events:handover`;
      await createPool(kube, namespace, poolManifest('handover', redis.url, stream));
      await waitForReplicas(kube, namespace, 'handover', 1, 15_000);
    } finally {
      await Promise.all([leader.stop('SIGKILL'), standby?.stop('SIGKILL')]);
    }
  });

  it('refuses a bad setting with one line naming the variable', async () => {
    const child = await FlowpoolProcess.start(
      'bad-operator',
      ['operator'],
      childEnv({ KUBECONFIG: kube.kubeconfigPath, WATCH_NAMESPACE: 'Not_A_Namespace' }),
    );
    const exit = await child.exited;
    expect(exit.code).toBe(2);
    const lines = child.lines.filter((line) => line.raw.trim() !== '');
    expect(lines, child.tail()).toHaveLength(1);
    expect(lines[0]?.json).toMatchObject({ variable: 'WATCH_NAMESPACE' });
  });
});
