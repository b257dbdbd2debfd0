import type {
  V1Container,
  V1Deployment,
  V1EnvVar,
  V1OwnerReference,
  V1PodSpec,
  V1ResourceRequirements,
  V1SecurityContext,
} from '@kubernetes/client-node';
import {
  API_VERSION,
  KIND,
  POOL_LABEL,
  type SecretKeyRef,
  type WorkflowWorkerPool,
} from '../api/pool.js';
import { checkPodPolicy, type PodPolicy, UNRESTRICTED_POLICY } from './policy.js';
import { splitStream } from './stream.js';

const WORKER_CONTAINER = 'worker';
export const WORKER_APP_NAME = 'flowpool-worker';
const MANAGED_BY = 'flowpool-operator';
/** The port the worker serves /healthz, /readyz and /metrics on (PORT). */
const WORKER_HTTP_PORT = 8080;
/** Non-root user and group the worker image runs as. */
const WORKER_UID = 10001;
/**
 * Seconds between the end of the worker's drain deadline and the kill:
 * time to ack, release locks, close connections and exit.
 */
const GRACE_MARGIN_SECONDS = 10;

/**
 * Variables the operator derives from the pool spec; entries of
 * spec.podTemplate.env with these names are ignored (the spec field that
 * sets them is where to change them).
 */
const OPERATOR_ENV = [
  'DATABASE_URL',
  'REDIS_URL',
  'WORKFLOW_REDIS_STREAM_PREFIX',
  'WORKFLOW_POOL',
  'WORKFLOW_REDIS_CONSUMER_GROUP',
  'WORKFLOW_CONCURRENCY',
  'WORKFLOW_DRAIN_TIMEOUT_MS',
  'POD_NAME',
  'PORT',
] as const;

/** The labels that select a pool's pods (also the Deployment's selector). */
function selectorLabels(poolName: string): Record<string, string> {
  return {
    'app.kubernetes.io/name': WORKER_APP_NAME,
    'app.kubernetes.io/instance': poolName,
    [POOL_LABEL]: poolName,
  };
}

/** The selector as a string, for status.selector (the scale subresource) and list calls. */
export function selectorString(poolName: string): string {
  return Object.entries(selectorLabels(poolName))
    .map(([key, value]) => `${key}=${value}`)
    .join(',');
}

export function terminationGracePeriodSeconds(drainTimeoutSeconds: number): number {
  return drainTimeoutSeconds + GRACE_MARGIN_SECONDS;
}

/** The owner reference that makes the pool the Deployment's controller (garbage-collected with it). */
function poolOwnerReference(pool: WorkflowWorkerPool): V1OwnerReference {
  const { name, uid } = pool.metadata;
  if (!name || !uid) throw new Error('a pool needs metadata.name and metadata.uid to own objects');
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    name,
    uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

function urlEnv(
  name: string,
  source: { url?: string | undefined; urlSecretRef?: SecretKeyRef | undefined },
): V1EnvVar {
  if (source.urlSecretRef) {
    return {
      name,
      valueFrom: {
        secretKeyRef: { name: source.urlSecretRef.name, key: source.urlSecretRef.key },
      },
    };
  }
  return { name, value: source.url ?? '' };
}

/** The worker's environment: the design's contract from the spec, then podTemplate.env. */
function workerEnv(pool: WorkflowWorkerPool): V1EnvVar[] {
  const { spec } = pool;
  const { prefix, pool: poolName } = splitStream(spec.redis.stream);
  const contract: V1EnvVar[] = [
    urlEnv('DATABASE_URL', spec.database),
    urlEnv('REDIS_URL', spec.redis),
    { name: 'WORKFLOW_REDIS_STREAM_PREFIX', value: prefix },
    { name: 'WORKFLOW_POOL', value: poolName },
    { name: 'WORKFLOW_REDIS_CONSUMER_GROUP', value: spec.redis.consumerGroup },
    { name: 'WORKFLOW_CONCURRENCY', value: String(spec.concurrency) },
    { name: 'WORKFLOW_DRAIN_TIMEOUT_MS', value: String(spec.drainTimeoutSeconds * 1000) },
    { name: 'PORT', value: String(WORKER_HTTP_PORT) },
    // The consumer name: the operator matches consumers to pods by it.
    {
      name: 'POD_NAME',
      valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } },
    },
  ];
  const reserved = new Set<string>(OPERATOR_ENV);
  const extra = (spec.podTemplate.env ?? [])
    .filter((entry) => !reserved.has(entry.name))
    .map((entry): V1EnvVar => {
      const out: V1EnvVar = { name: entry.name };
      if (entry.value !== undefined) out.value = entry.value;
      if (entry.valueFrom !== undefined) out.valueFrom = entry.valueFrom as V1EnvVar['valueFrom'];
      return out;
    });
  return [...contract, ...extra];
}

/** Names in spec.podTemplate.env the renderer ignores because the operator sets them. */
export function ignoredEnvNames(pool: WorkflowWorkerPool): string[] {
  const reserved = new Set<string>(OPERATOR_ENV);
  return (pool.spec.podTemplate.env ?? [])
    .map((entry) => entry.name)
    .filter((name) => reserved.has(name));
}

const CONTAINER_SECURITY: V1SecurityContext = {
  runAsNonRoot: true,
  runAsUser: WORKER_UID,
  runAsGroup: WORKER_UID,
  allowPrivilegeEscalation: false,
  privileged: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, entry]) => entry !== undefined)) as T;
}

function workerContainer(pool: WorkflowWorkerPool): V1Container {
  const { spec } = pool;
  return withoutUndefined<V1Container>({
    name: WORKER_CONTAINER,
    image: spec.image,
    args: ['worker'],
    ports: [{ name: 'http', containerPort: WORKER_HTTP_PORT, protocol: 'TCP' }],
    env: workerEnv(pool),
    livenessProbe: {
      httpGet: { path: '/healthz', port: 'http' },
      periodSeconds: 10,
      timeoutSeconds: 3,
      failureThreshold: 3,
    },
    // Probed every second: a new worker counts as ready (for the Deployment,
    // the pool's status and the operator's capacity figures, which count
    // only ready replicas) within a second of being able to work, instead
    // of up to a whole period later. /readyz costs a `select 1` and a PING.
    readinessProbe: {
      httpGet: { path: '/readyz', port: 'http' },
      periodSeconds: 1,
      timeoutSeconds: 3,
      failureThreshold: 3,
    },
    resources: spec.podTemplate.resources as V1ResourceRequirements | undefined,
    securityContext: CONTAINER_SECURITY,
    // A read-only root file system still needs somewhere for temporary files.
    volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
  });
}

function podSpec(pool: WorkflowWorkerPool): V1PodSpec {
  const { spec } = pool;
  const template = spec.podTemplate;
  return withoutUndefined<V1PodSpec>({
    containers: [workerContainer(pool)],
    terminationGracePeriodSeconds: terminationGracePeriodSeconds(spec.drainTimeoutSeconds),
    securityContext: {
      runAsNonRoot: true,
      runAsUser: WORKER_UID,
      runAsGroup: WORKER_UID,
      fsGroup: WORKER_UID,
      seccompProfile: { type: 'RuntimeDefault' },
    },
    // Workers never call the Kubernetes API.
    automountServiceAccountToken: false,
    volumes: [{ name: 'tmp', emptyDir: {} }],
    serviceAccountName: template.serviceAccountName,
    imagePullSecrets: template.imagePullSecrets,
    nodeSelector: template.nodeSelector,
    tolerations: template.tolerations as V1PodSpec['tolerations'],
    affinity: template.affinity as V1PodSpec['affinity'],
  });
}

/**
 * The worker Deployment of a pool, as the operator applies it with
 * server-side apply. Pure: the same pool and replicas give the same object.
 *
 * `replicas` is what the reconciler decided (the scaler's answer, or
 * spec.replicas when autoscaling is off); when undefined, spec.replicas is
 * left out of the manifest so the apply does not claim it.
 *
 * Throws a PoolSpecError when the pool cannot or may not be rendered:
 * StreamNameError when spec.redis.stream cannot be split into the worker's
 * prefix and pool, ImageNotAllowedError or ServiceAccountNotAllowedError
 * when `policy` refuses its image or ServiceAccount.
 */
export function renderWorkerDeployment(
  pool: WorkflowWorkerPool,
  replicas?: number,
  policy: PodPolicy = UNRESTRICTED_POLICY,
): V1Deployment & { apiVersion: 'apps/v1'; kind: 'Deployment' } {
  checkPodPolicy(pool, policy);
  const name = pool.metadata.name!;
  const selector = selectorLabels(name);
  const template = pool.spec.podTemplate;
  const podLabels = { ...(template.labels ?? {}), ...selector };
  const podAnnotations = template.annotations ?? {};
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name,
      namespace: pool.metadata.namespace,
      labels: {
        ...selector,
        'app.kubernetes.io/component': 'worker',
        'app.kubernetes.io/managed-by': MANAGED_BY,
      },
      ownerReferences: [poolOwnerReference(pool)],
    },
    spec: withoutUndefined({
      replicas,
      selector: { matchLabels: selector },
      // Keep capacity during a rollout: new workers start before old ones drain.
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: 0 } },
      revisionHistoryLimit: 5,
      template: {
        metadata: withoutUndefined({
          labels: podLabels,
          annotations: Object.keys(podAnnotations).length > 0 ? podAnnotations : undefined,
        }),
        spec: podSpec(pool),
      },
    }),
  };
}
