import fs from 'node:fs';
import { CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { Value } from '@sinclair/typebox/value';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { KubeApiServer, type KubeStatus } from '../../test/support/kube-apiserver.js';
import { CRD_YAML_PATH } from './crd.js';
import {
  API_VERSION,
  CRD_NAME,
  GROUP,
  KIND,
  PLURAL,
  VERSION,
  type WorkflowWorkerPool,
  WorkflowWorkerPoolSchema,
  type WorkflowWorkerPoolSpec,
} from './pool.js';

const NAMESPACE = 'pools';
const POOLS = `/apis/${GROUP}/${VERSION}/namespaces/${NAMESPACE}/${PLURAL}`;

type Json = Record<string, unknown>;

interface CrdCondition {
  type: string;
  status: string;
}

let kube: KubeApiServer;

function minimalPool(name: string): Json {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name },
    spec: {
      image: 'flowpool:0.1.0',
      redis: { url: 'redis://redis:6379' },
      database: { urlSecretRef: { name: 'flowpool-db', key: 'url' } },
    },
  };
}

/** A minimal pool with `change` applied to a copy of its spec. */
function poolWith(name: string, change: (spec: Json) => void): Json {
  const pool = minimalPool(name);
  change(pool.spec as Json);
  return pool;
}

beforeAll(async () => {
  kube = await KubeApiServer.start();
  // Apply the committed file, i.e. what users install.
  const crd = parse(fs.readFileSync(new URL(`../../${CRD_YAML_PATH}`, import.meta.url), 'utf8'));
  const created = await kube.request(
    'POST',
    '/apis/apiextensions.k8s.io/v1/customresourcedefinitions',
    {
      body: crd,
    },
  );
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  const namespace = await kube.request('POST', '/api/v1/namespaces', {
    body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NAMESPACE } },
  });
  expect(namespace.status).toBe(201);
  // Established is not the same as served: wait until the pools path answers.
  await waitUntil(async () => (await kube.request('GET', POOLS)).status === 200);
});

afterAll(async () => {
  await kube?.destroy();
});

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('WorkflowWorkerPool CRD on a real kube-apiserver', () => {
  it('is accepted, named and established', async () => {
    const answer = await kube.request<{ status: { conditions: CrdCondition[] } }>(
      'GET',
      `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${CRD_NAME}`,
    );
    expect(answer.status).toBe(200);
    const conditions = Object.fromEntries(
      answer.body.status.conditions.map((c) => [c.type, c.status]),
    );
    expect(conditions).toMatchObject({ NamesAccepted: 'True', Established: 'True' });
    expect(conditions.NonStructuralSchema).toBeUndefined();

    const discovery = await kube.request<{
      resources: Array<{
        name: string;
        shortNames?: string[];
        categories?: string[];
        namespaced: boolean;
      }>;
    }>('GET', `/apis/${GROUP}/${VERSION}`);
    const names = discovery.body.resources.map((resource) => resource.name).sort();
    expect(names).toEqual([PLURAL, `${PLURAL}/scale`, `${PLURAL}/status`]);
    const pools = discovery.body.resources.find((resource) => resource.name === PLURAL)!;
    expect(pools).toMatchObject({
      namespaced: true,
      shortNames: ['wwp'],
      categories: ['flowpool'],
    });
  });

  it('accepts a minimal pool and fills in every default', async () => {
    const created = await kube.request<WorkflowWorkerPool>('POST', POOLS, {
      body: minimalPool('minimal'),
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const expected: WorkflowWorkerPoolSpec = {
      image: 'flowpool:0.1.0',
      redis: {
        url: 'redis://redis:6379',
        stream: 'workflow:events:global',
        consumerGroup: 'workflow-workers',
      },
      database: { urlSecretRef: { name: 'flowpool-db', key: 'url' } },
      concurrency: 64,
      replicas: 1,
      autoscaling: {
        enabled: true,
        minReplicas: 1,
        maxReplicas: 10,
        targetBacklogPerReplica: 100,
        activationBacklog: 1,
        pollIntervalSeconds: 5,
        scaleDownStabilizationSeconds: 120,
        scaleToZeroCooldownSeconds: 300,
      },
      drainTimeoutSeconds: 60,
      paused: false,
      podTemplate: {},
    };
    expect(created.body.spec).toEqual(expected);
    // The TypeScript types describe what the server stores.
    expect(Value.Check(WorkflowWorkerPoolSchema, created.body)).toBe(true);
  });

  it('accepts a pool that sets every field', async () => {
    const pool = poolWith('everything', (spec) => {
      spec.redis = {
        urlSecretRef: { name: 'redis', key: 'url' },
        stream: 'workflow:events:billing',
        consumerGroup: 'billing-workers',
      };
      spec.database = { url: 'postgresql://flowpool@postgres:5432/flowpool' };
      spec.concurrency = 32;
      spec.replicas = 0;
      spec.autoscaling = {
        enabled: true,
        minReplicas: 0,
        maxReplicas: 50,
        targetBacklogPerReplica: 25,
        activationBacklog: 5,
        pollIntervalSeconds: 2,
        scaleDownStabilizationSeconds: 0,
        scaleToZeroCooldownSeconds: 600,
      };
      spec.drainTimeoutSeconds = 120;
      spec.paused = true;
      spec.podTemplate = {
        labels: { team: 'billing' },
        annotations: { 'prometheus.io/scrape': 'true' },
        resources: {
          requests: { cpu: '250m', memory: '256Mi' },
          limits: { memory: '512Mi', cpu: 1 },
        },
        env: [
          { name: 'LOG_LEVEL', value: 'debug' },
          { name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'tokens', key: 'token' } } },
        ],
        nodeSelector: { 'kubernetes.io/os': 'linux' },
        tolerations: [
          { key: 'dedicated', operator: 'Equal', value: 'workers', effect: 'NoSchedule' },
        ],
        affinity: {
          podAntiAffinity: {
            preferredDuringSchedulingIgnoredDuringExecution: [
              {
                weight: 100,
                podAffinityTerm: {
                  topologyKey: 'kubernetes.io/hostname',
                  labelSelector: { matchLabels: { 'flowpool.dev/pool': 'everything' } },
                },
              },
            ],
          },
        },
        serviceAccountName: 'flowpool-worker',
        imagePullSecrets: [{ name: 'registry' }],
      };
    });
    const created = await kube.request<WorkflowWorkerPool>(
      'POST',
      `${POOLS}?fieldValidation=Strict`,
      {
        body: pool,
      },
    );
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    // Nothing was pruned: the stored spec is what was sent.
    expect(created.body.spec).toEqual(pool.spec);
    expect(Value.Check(WorkflowWorkerPoolSchema, created.body)).toBe(true);
  });

  // field: where the error points; message: what the user is told.
  const invalid: Array<{ why: string; pool: Json; field: string; message: string }> = [
    {
      why: 'redis has neither url nor urlSecretRef',
      pool: poolWith('bad-redis-none', (spec) => {
        spec.redis = {};
      }),
      field: 'spec.redis',
      message: 'set exactly one of spec.redis.url or spec.redis.urlSecretRef',
    },
    {
      why: 'redis has both url and urlSecretRef',
      pool: poolWith('bad-redis-both', (spec) => {
        spec.redis = { url: 'redis://redis:6379', urlSecretRef: { name: 'redis', key: 'url' } };
      }),
      field: 'spec.redis',
      message: 'set exactly one of spec.redis.url or spec.redis.urlSecretRef',
    },
    {
      why: 'database has neither url nor urlSecretRef',
      pool: poolWith('bad-db-none', (spec) => {
        spec.database = {};
      }),
      field: 'spec.database',
      message: 'set exactly one of spec.database.url or spec.database.urlSecretRef',
    },
    {
      why: 'database has both url and urlSecretRef',
      pool: poolWith('bad-db-both', (spec) => {
        spec.database = { url: 'postgres://db/flowpool', urlSecretRef: { name: 'db', key: 'url' } };
      }),
      field: 'spec.database',
      message: 'set exactly one of spec.database.url or spec.database.urlSecretRef',
    },
    {
      why: 'maxReplicas is below minReplicas',
      pool: poolWith('bad-min-max', (spec) => {
        spec.autoscaling = { minReplicas: 5, maxReplicas: 2 };
      }),
      field: 'spec.autoscaling.maxReplicas',
      message:
        'spec.autoscaling.maxReplicas must be greater than or equal to spec.autoscaling.minReplicas',
    },
    {
      why: 'maxReplicas is below the default minReplicas',
      pool: poolWith('bad-max-zero', (spec) => {
        spec.autoscaling = { maxReplicas: 0 };
      }),
      field: 'spec.autoscaling.maxReplicas',
      message: 'spec.autoscaling.maxReplicas must be at least 1',
    },
    {
      why: 'targetBacklogPerReplica is 0',
      pool: poolWith('bad-target', (spec) => {
        spec.autoscaling = { targetBacklogPerReplica: 0 };
      }),
      field: 'spec.autoscaling.targetBacklogPerReplica',
      message: 'spec.autoscaling.targetBacklogPerReplica must be greater than 0, e.g. 100',
    },
    {
      why: 'pollIntervalSeconds is 0',
      pool: poolWith('bad-poll', (spec) => {
        spec.autoscaling = { pollIntervalSeconds: 0 };
      }),
      field: 'spec.autoscaling.pollIntervalSeconds',
      message: 'spec.autoscaling.pollIntervalSeconds must be between 1 and 3600',
    },
    {
      why: 'activationBacklog is 0',
      pool: poolWith('bad-activation', (spec) => {
        spec.autoscaling = { minReplicas: 0, activationBacklog: 0 };
      }),
      field: 'spec.autoscaling.activationBacklog',
      message: 'spec.autoscaling.activationBacklog must be at least 1',
    },
    {
      why: 'minReplicas is negative',
      pool: poolWith('bad-min', (spec) => {
        spec.autoscaling = { minReplicas: -1 };
      }),
      field: 'spec.autoscaling.minReplicas',
      message: 'spec.autoscaling.minReplicas must be 0 or more',
    },
    {
      why: 'concurrency is 0',
      pool: poolWith('bad-concurrency', (spec) => {
        spec.concurrency = 0;
      }),
      field: 'spec.concurrency',
      message: 'spec.concurrency must be between 1 and 1000',
    },
    {
      why: 'drainTimeoutSeconds is 0',
      pool: poolWith('bad-drain', (spec) => {
        spec.drainTimeoutSeconds = 0;
      }),
      field: 'spec.drainTimeoutSeconds',
      message: 'spec.drainTimeoutSeconds must be between 1 and 3600',
    },
    {
      why: 'replicas is negative',
      pool: poolWith('bad-replicas', (spec) => {
        spec.replicas = -1;
      }),
      field: 'spec.replicas',
      message: 'spec.replicas must be 0 or more',
    },
    {
      why: 'the image is missing',
      pool: poolWith('bad-no-image', (spec) => {
        delete spec.image;
      }),
      field: 'spec.image',
      message: 'Required value',
    },
    {
      why: 'the image has a space',
      pool: poolWith('bad-image', (spec) => {
        spec.image = 'flowpool 0.1.0';
      }),
      field: 'spec.image',
      message:
        'spec.image must be a container image reference such as flowpool:0.1.0 (not empty, no spaces)',
    },
    {
      why: 'the Redis URL is not a redis:// URL',
      pool: poolWith('bad-redis-url', (spec) => {
        spec.redis = { url: 'http://redis:6379' };
      }),
      field: 'spec.redis.url',
      message: 'spec.redis.url must start with redis:// or rediss://, e.g. redis://redis:6379',
    },
    {
      why: 'the database URL is not a postgres:// URL',
      pool: poolWith('bad-db-url', (spec) => {
        spec.database = { url: 'mysql://db/flowpool' };
      }),
      field: 'spec.database.url',
      message:
        'spec.database.url must start with postgres:// or postgresql://, e.g. postgres://flowpool@postgres:5432/flowpool',
    },
    {
      why: 'the stream is a dead-letter stream',
      pool: poolWith('bad-stream', (spec) => {
        spec.redis = { url: 'redis://redis:6379', stream: 'workflow:events:global:dlq' };
      }),
      field: 'spec.redis.stream',
      message:
        'spec.redis.stream must not be a dead-letter stream (ending in :dlq); name the stream the workers consume',
    },
    ...[
      ['has no ":" before the pool', 'bad-stream-flat', 'jobs'],
      ['has an empty pool after the last ":"', 'bad-stream-empty', 'workflow:events:'],
      ['has a space in its pool', 'bad-stream-space', 'workflow:events:my pool'],
      ['starts with whitespace', 'bad-stream-lead', ' workflow:events:billing'],
    ].map(([what, name, stream]) => ({
      why: `the stream ${what} (workers could not be given it)`,
      pool: poolWith(name!, (spec) => {
        spec.redis = { url: 'redis://redis:6379', stream };
      }),
      field: 'spec.redis.stream',
      message:
        'spec.redis.stream must be <prefix>:<pool>, where <pool> (after the last ":") is 1-100 letters, digits, ".", "_" or "-" and the stream does not start with whitespace, e.g. workflow:events:billing',
    })),
    {
      why: 'the Secret name is not a valid name',
      pool: poolWith('bad-secret-name', (spec) => {
        spec.database = { urlSecretRef: { name: 'My_Secret', key: 'url' } };
      }),
      field: 'spec.database.urlSecretRef.name',
      message: 'urlSecretRef.name must be the name of a Secret: lowercase letters, digits, - and .',
    },
    {
      why: 'pod labels override the selector labels',
      pool: poolWith('bad-labels', (spec) => {
        spec.podTemplate = { labels: { 'flowpool.dev/pool': 'other' } };
      }),
      field: 'spec.podTemplate.labels',
      message:
        "spec.podTemplate.labels must not set app.kubernetes.io/name, app.kubernetes.io/instance, flowpool.dev/pool: the operator sets them to select the pool's pods",
    },
    {
      why: 'an env entry has both value and valueFrom',
      pool: poolWith('bad-env', (spec) => {
        spec.podTemplate = {
          env: [{ name: 'A', value: 'x', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } }],
        };
      }),
      field: 'spec.podTemplate.env[0]',
      message: 'an env entry may set value or valueFrom, not both',
    },
    {
      why: 'a resource quantity is malformed',
      pool: poolWith('bad-quantity', (spec) => {
        spec.podTemplate = { resources: { requests: { memory: 'lots' } } };
      }),
      field: 'spec.podTemplate.resources.requests.memory',
      message: 'Invalid value: "lots"',
    },
    {
      why: 'the name is longer than a label value may be',
      pool: minimalPool(`p${'o'.repeat(63)}`),
      field: 'metadata',
      message:
        'metadata.name must be at most 63 characters: it becomes a label value on the worker pods',
    },
  ];

  it.each(invalid)('rejects a pool when $why', async ({ pool, field, message }) => {
    const answer = await kube.request<KubeStatus>('POST', POOLS, { body: pool });
    expect(answer.status, JSON.stringify(answer.body)).toBe(422);
    expect(answer.body.reason).toBe('Invalid');
    // kubectl prints `<field>: Invalid value: [<value>: ]<message>`; the value's
    // rendering differs between Kubernetes versions, the rest does not.
    const causes = answer.body.details?.causes ?? [];
    expect(causes, answer.body.message).toContainEqual(
      expect.objectContaining({ field, message: expect.stringContaining(message) }),
    );
    expect(answer.body.message).toContain(`${field}: `);
    expect(answer.body.message).toContain(message);
  });

  it('serves the scale subresource for kubectl scale and autoscalers', async () => {
    const name = 'scalable';
    const created = await kube.request('POST', POOLS, { body: minimalPool(name) });
    expect(created.status).toBe(201);
    const status = await kube.request('PATCH', `${POOLS}/${name}/status`, {
      body: { status: { replicas: 2, readyReplicas: 1, selector: `flowpool.dev/pool=${name}` } },
    });
    expect(status.status, JSON.stringify(status.body)).toBe(200);

    // Through the typed client, with the kubeconfig the helper hands out.
    const api = kube.kubeConfig().makeApiClient(CustomObjectsApi);
    const scale = await api.getNamespacedCustomObjectScale({
      group: GROUP,
      version: VERSION,
      namespace: NAMESPACE,
      plural: PLURAL,
      name,
    });
    expect(scale).toMatchObject({
      kind: 'Scale',
      spec: { replicas: 1 },
      status: { replicas: 2, selector: `flowpool.dev/pool=${name}` },
    });

    await api.patchNamespacedCustomObjectScale(
      {
        group: GROUP,
        version: VERSION,
        namespace: NAMESPACE,
        plural: PLURAL,
        name,
        body: { spec: { replicas: 4 } },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const pool = await kube.request<WorkflowWorkerPool>('GET', `${POOLS}/${name}`);
    expect(pool.body.spec.replicas).toBe(4);

    const negative = await kube.request<KubeStatus>('PATCH', `${POOLS}/${name}/scale`, {
      body: { spec: { replicas: -1 } },
    });
    expect(negative.status).toBe(422);
    expect(negative.body.message).toContain('spec.replicas');
  });

  it('rejects a status with an unknown lag source', async () => {
    const name = 'status-check';
    expect((await kube.request('POST', POOLS, { body: minimalPool(name) })).status).toBe(201);
    const answer = await kube.request<KubeStatus>('PATCH', `${POOLS}/${name}/status`, {
      body: { status: { lagSource: 'guessed' } },
    });
    expect(answer.status).toBe(422);
    expect(answer.body.message).toContain('status.lagSource: Unsupported value: "guessed"');
  });

  it('publishes the field descriptions kubectl explain shows', async () => {
    type Schema = { description?: string; properties?: Record<string, Schema> };
    await waitUntil(
      async () =>
        (await kube.request('GET', `/openapi/v3/apis/${GROUP}/${VERSION}`)).status === 200,
    );
    const document = await kube.request<{ components: { schemas: Record<string, Schema> } }>(
      'GET',
      `/openapi/v3/apis/${GROUP}/${VERSION}`,
    );
    const pool = document.body.components.schemas[`dev.flowpool.${VERSION}.${KIND}`];
    const autoscaling = pool?.properties?.spec?.properties?.autoscaling;
    expect(autoscaling?.properties?.minReplicas?.description).toMatch(/scale to zero/);
    expect(
      pool?.properties?.spec?.properties?.redis?.properties?.urlSecretRef?.description,
    ).toMatch(/Exactly one of url and urlSecretRef/);
  });

  it('shows the printer columns kubectl get prints', async () => {
    const table = await kube.request<{
      columnDefinitions: Array<{ name: string }>;
      rows: Array<{ cells: unknown[] }>;
    }>('GET', `${POOLS}/minimal`, { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' });
    expect(table.status, JSON.stringify(table.body)).toBe(200);
    expect(table.body.columnDefinitions.map((column) => column.name)).toEqual([
      'Name',
      'Desired',
      'Ready',
      'Backlog',
      'Min',
      'Max',
      'Lag Source',
      'Paused',
      'Age',
    ]);
    expect(table.body.rows[0]?.cells.slice(0, 6)).toEqual(['minimal', null, null, null, 1, 10]);
  });
});
