/**
 * Shared setup of the operator's integration tests: a real kube-apiserver
 * with the CRD installed, a namespace per test file, pools built from a
 * minimal spec, and small readers of what the operator wrote.
 */
import type { Redis } from 'ioredis';
import pino, { type Logger } from 'pino';
import { waitFor } from '../../local/process.js';
import { workflowWorkerPoolCrd } from '../../operator/api/crd.js';
import {
  API_VERSION,
  GROUP,
  KIND,
  PLURAL,
  type PoolCondition,
  VERSION,
  type WorkflowWorkerPool,
} from '../../operator/api/pool.js';
import { PoolController } from '../../operator/controller/controller.js';
import { KubeApi } from '../../operator/kube/kube-api.js';
import type { Deployment } from '../../operator/kube/types.js';
import type { OperatorMetrics } from '../../operator/metrics.js';
import type { PodPolicy } from '../../operator/render/policy.js';
import { KubeApiServer } from '../support/kube-apiserver.js';

export type Json = Record<string, unknown>;

export function testLogger(): Logger {
  return pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
}

/** Starts the API server and installs the CRD; resolves once pools can be created. */
export async function startKube(): Promise<KubeApiServer> {
  const kube = await KubeApiServer.start();
  const created = await kube.request(
    'POST',
    '/apis/apiextensions.k8s.io/v1/customresourcedefinitions',
    { body: workflowWorkerPoolCrd() },
  );
  if (created.status !== 201) throw new Error(`CRD: ${JSON.stringify(created.body)}`);
  await waitFor('the pool API', async () => {
    const answer = await kube.request('GET', `/apis/${GROUP}/${VERSION}/${PLURAL}`);
    return answer.status === 200;
  });
  return kube;
}

/** A pool controller in this process, watching one namespace, with quick retries. */
export interface TestController {
  controller: PoolController;
  api: KubeApi;
  stop(): Promise<void>;
}

/** Creates `namespace` and starts a controller that watches it. */
export async function startController(
  kube: KubeApiServer,
  namespace: string,
  metrics: OperatorMetrics,
  options: { podPolicy?: PodPolicy } = {},
): Promise<TestController> {
  await createNamespace(kube, namespace);
  const api = new KubeApi(kube.kubeConfig());
  const controller = new PoolController({
    kube: api,
    logger: testLogger(),
    namespace,
    metrics,
    podPolicy: options.podPolicy,
    queue: { baseDelayMs: 100, maxDelayMs: 2_000 },
  });
  await controller.start();
  return {
    controller,
    api,
    async stop() {
      await controller.stop();
      api.close();
    },
  };
}

export async function createNamespace(kube: KubeApiServer, name: string): Promise<void> {
  const answer = await kube.request('POST', '/api/v1/namespaces', {
    body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name } },
  });
  if (answer.status !== 201) throw new Error(`namespace: ${JSON.stringify(answer.body)}`);
}

export function poolsPath(namespace: string): string {
  return `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${PLURAL}`;
}

export function deploymentPath(namespace: string, name: string): string {
  return `/apis/apps/v1/namespaces/${namespace}/deployments/${name}`;
}

/** A pool manifest: a minimal spec with `spec` merged over it (one level deep for autoscaling). */
export function poolManifest(
  name: string,
  redisUrl: string,
  stream: string,
  spec: Json = {},
): Json {
  const { autoscaling, redis, ...rest } = spec;
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name },
    spec: {
      image: 'flowpool:0.1.0',
      redis: { url: redisUrl, stream, ...((redis as Json | undefined) ?? {}) },
      database: { urlSecretRef: { name: 'flowpool-db', key: 'url' } },
      autoscaling: {
        minReplicas: 1,
        maxReplicas: 10,
        targetBacklogPerReplica: 10,
        pollIntervalSeconds: 1,
        scaleDownStabilizationSeconds: 2,
        scaleToZeroCooldownSeconds: 2,
        ...((autoscaling as Json | undefined) ?? {}),
      },
      ...rest,
    },
  };
}

export async function createPool(
  kube: KubeApiServer,
  namespace: string,
  manifest: Json,
): Promise<WorkflowWorkerPool> {
  const answer = await kube.request<WorkflowWorkerPool>('POST', poolsPath(namespace), {
    body: manifest,
  });
  if (answer.status !== 201) throw new Error(`pool: ${JSON.stringify(answer.body)}`);
  return answer.body;
}

export async function getPool(
  kube: KubeApiServer,
  namespace: string,
  name: string,
): Promise<WorkflowWorkerPool> {
  const answer = await kube.request<WorkflowWorkerPool>('GET', `${poolsPath(namespace)}/${name}`);
  if (answer.status !== 200) throw new Error(`pool: ${JSON.stringify(answer.body)}`);
  return answer.body;
}

export async function patchPool(
  kube: KubeApiServer,
  namespace: string,
  name: string,
  patch: Json,
): Promise<void> {
  const answer = await kube.request('PATCH', `${poolsPath(namespace)}/${name}`, { body: patch });
  if (answer.status !== 200) throw new Error(`patch pool: ${JSON.stringify(answer.body)}`);
}

export async function getDeployment(
  kube: KubeApiServer,
  namespace: string,
  name: string,
): Promise<Deployment | undefined> {
  const answer = await kube.request<Deployment>('GET', deploymentPath(namespace, name));
  if (answer.status === 404) return undefined;
  if (answer.status !== 200) throw new Error(`deployment: ${JSON.stringify(answer.body)}`);
  return answer.body;
}

export async function deploymentReplicas(
  kube: KubeApiServer,
  namespace: string,
  name: string,
): Promise<number | undefined> {
  return (await getDeployment(kube, namespace, name))?.spec?.replicas;
}

/**
 * Plays the Deployment controller, which this API server does not run:
 * reports `ready` of the Deployment's replicas as running and ready.
 */
export async function simulateRollout(
  kube: KubeApiServer,
  namespace: string,
  name: string,
  ready?: number,
): Promise<void> {
  const deployment = await getDeployment(kube, namespace, name);
  const replicas = deployment?.spec?.replicas ?? 0;
  const answer = await kube.request('PATCH', `${deploymentPath(namespace, name)}/status`, {
    body: {
      status: {
        replicas,
        updatedReplicas: replicas,
        readyReplicas: ready ?? replicas,
        availableReplicas: ready ?? replicas,
        observedGeneration: deployment?.metadata?.generation,
      },
    },
  });
  if (answer.status !== 200) throw new Error(`deployment status: ${JSON.stringify(answer.body)}`);
}

export function condition(pool: WorkflowWorkerPool, type: string): PoolCondition | undefined {
  return pool.status?.conditions?.find((entry) => entry.type === type);
}

/** Waits until the pool's status satisfies `check`; returns that pool. */
export async function waitForPool(
  kube: KubeApiServer,
  namespace: string,
  name: string,
  what: string,
  check: (pool: WorkflowWorkerPool) => boolean,
  timeoutMs = 20_000,
): Promise<WorkflowWorkerPool> {
  let last: WorkflowWorkerPool | undefined;
  try {
    await waitFor(
      what,
      async () => {
        last = await getPool(kube, namespace, name);
        return check(last);
      },
      { timeoutMs, intervalMs: 50 },
    );
  } catch (error) {
    throw new Error(`${(error as Error).message}\nlast status: ${JSON.stringify(last?.status)}`);
  }
  return last!;
}

/** Waits until the Deployment has `replicas`; returns ms waited. */
export async function waitForReplicas(
  kube: KubeApiServer,
  namespace: string,
  name: string,
  replicas: number,
  timeoutMs = 20_000,
): Promise<number> {
  const started = Date.now();
  let last: number | undefined;
  try {
    await waitFor(
      `Deployment ${name} at ${replicas} replicas`,
      async () => {
        last = await deploymentReplicas(kube, namespace, name);
        return last === replicas;
      },
      { timeoutMs, intervalMs: 20 },
    );
  } catch (error) {
    throw new Error(`${(error as Error).message} (last seen: ${last})`);
  }
  return Date.now() - started;
}

export interface KubeEventRecord {
  reason: string;
  type: string;
  message: string;
  involvedObject: { name: string; kind: string };
}

export async function eventsFor(
  kube: KubeApiServer,
  namespace: string,
  name: string,
): Promise<KubeEventRecord[]> {
  const answer = await kube.request<{ items: KubeEventRecord[] }>(
    'GET',
    `/api/v1/namespaces/${namespace}/events?fieldSelector=involvedObject.name=${name}`,
  );
  return answer.body.items ?? [];
}

/** Adds `count` entries to `stream` (the group must exist for them to count as lag). */
export async function addEntries(redis: Redis, stream: string, count: number): Promise<void> {
  const pipeline = redis.pipeline();
  for (let i = 0; i < count; i++) pipeline.xadd(stream, '*', 'n', String(i));
  await pipeline.exec();
}

/** Reads everything waiting as `consumer` and acknowledges it. */
/** Delivers up to `count` new entries of `stream` to `consumer`, acknowledging them when `ack`; returns how many. */
export async function takeEntries(
  redis: Redis,
  stream: string,
  group: string,
  consumer: string,
  count: number,
  ack = true,
): Promise<number> {
  const reply = (await redis.xreadgroup(
    'GROUP',
    group,
    consumer,
    'COUNT',
    count,
    'STREAMS',
    stream,
    '>',
  )) as Array<[string, Array<[string, string[]]>]> | null;
  const ids = (reply?.[0]?.[1] ?? []).map(([id]) => id);
  if (ack && ids.length > 0) await redis.xack(stream, group, ...ids);
  return ids.length;
}

export async function consumeAll(
  redis: Redis,
  stream: string,
  group: string,
  consumer: string,
  ack = true,
): Promise<number> {
  let total = 0;
  for (;;) {
    const taken = await takeEntries(redis, stream, group, consumer, 1000, ack);
    if (taken === 0) return total;
    total += taken;
  }
}

/** Creates pods as the ReplicaSet would for `pool`'s Deployment (consumers are named after pods). */
export async function createWorkerPods(
  kube: KubeApiServer,
  namespace: string,
  pool: string,
  names: readonly string[],
): Promise<void> {
  const labels = {
    'app.kubernetes.io/name': 'flowpool-worker',
    'app.kubernetes.io/instance': pool,
    'flowpool.dev/pool': pool,
  };
  for (const name of names) {
    const created = await kube.request('POST', `/api/v1/namespaces/${namespace}/pods`, {
      body: {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name, labels },
        spec: { containers: [{ name: 'worker', image: 'flowpool:0.1.0' }] },
      },
    });
    if (created.status !== 201) throw new Error(`pod ${name}: ${JSON.stringify(created.body)}`);
  }
}

/** The pod-deletion-cost annotation of each of `pool`'s pods, by pod name. */
export async function deletionCosts(
  kube: KubeApiServer,
  namespace: string,
  pool: string,
): Promise<Record<string, string | undefined>> {
  const pods = await kube.request<{
    items: Array<{ metadata: { name: string; annotations?: Record<string, string> } }>;
  }>('GET', `/api/v1/namespaces/${namespace}/pods?labelSelector=flowpool.dev/pool=${pool}`);
  return Object.fromEntries(
    pods.body.items.map((pod) => [
      pod.metadata.name,
      pod.metadata.annotations?.['controller.kubernetes.io/pod-deletion-cost'],
    ]),
  );
}
