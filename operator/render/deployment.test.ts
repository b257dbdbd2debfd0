import { describe, expect, it } from 'vitest';
import { API_VERSION, KIND, type WorkflowWorkerPool, withDefaults } from '../api/pool.js';
import {
  ignoredEnvNames,
  renderWorkerDeployment,
  selectorString,
  terminationGracePeriodSeconds,
} from './deployment.js';
import { StreamNameError, splitStream } from './stream.js';

function pool(name: string, spec: Record<string, unknown> = {}): WorkflowWorkerPool {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name, namespace: 'team-a', uid: `uid-${name}`, generation: 1 },
    spec: withDefaults({
      image: 'flowpool:0.1.0',
      redis: { url: 'redis://redis:6379' },
      database: { urlSecretRef: { name: 'db', key: 'url' } },
      ...spec,
    }),
  };
}

function envOf(deployment: ReturnType<typeof renderWorkerDeployment>) {
  return deployment.spec?.template.spec?.containers[0]?.env ?? [];
}

describe('splitStream', () => {
  it.each([
    ['workflow:events:global', 'workflow:events:', 'global'],
    ['t1a2b:workflow:events:billing', 't1a2b:workflow:events:', 'billing'],
    ['a:b.c_d-e', 'a:', 'b.c_d-e'],
  ])('splits %s so that prefix + pool is the stream', (stream, prefix, poolName) => {
    const parts = splitStream(stream);
    expect(parts).toEqual({ prefix, pool: poolName });
    expect(parts.prefix + parts.pool).toBe(stream);
  });

  it.each(['jobs', 'workflow:events:', 'workflow:events:a b', `x:${'p'.repeat(101)}`, ' x:y'])(
    'rejects %j, which workers could not be told',
    (stream) => {
      expect(() => splitStream(stream)).toThrow(StreamNameError);
      expect(() => splitStream(stream)).toThrow(/WORKFLOW_REDIS_STREAM_PREFIX \+ WORKFLOW_POOL/);
    },
  );
});

describe('renderWorkerDeployment', () => {
  it('names the Deployment after the pool and makes the pool its controller', () => {
    const deployment = renderWorkerDeployment(pool('billing'), 3);
    expect(deployment.apiVersion).toBe('apps/v1');
    expect(deployment.kind).toBe('Deployment');
    expect(deployment.metadata).toMatchObject({ name: 'billing', namespace: 'team-a' });
    expect(deployment.metadata?.ownerReferences).toEqual([
      {
        apiVersion: 'flowpool.dev/v1alpha1',
        kind: 'WorkflowWorkerPool',
        name: 'billing',
        uid: 'uid-billing',
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
    expect(deployment.spec?.replicas).toBe(3);
  });

  it('selects pods by the three pool labels and keeps template labels beside them', () => {
    const deployment = renderWorkerDeployment(
      pool('billing', {
        podTemplate: { labels: { team: 'billing' }, annotations: { 'a.io/x': 'y' } },
      }),
      1,
    );
    const selector = {
      'app.kubernetes.io/name': 'flowpool-worker',
      'app.kubernetes.io/instance': 'billing',
      'flowpool.dev/pool': 'billing',
    };
    expect(deployment.spec?.selector).toEqual({ matchLabels: selector });
    expect(deployment.metadata?.labels).toMatchObject(selector);
    expect(deployment.spec?.template.metadata?.labels).toEqual({ team: 'billing', ...selector });
    expect(deployment.spec?.template.metadata?.annotations).toEqual({ 'a.io/x': 'y' });
    expect(selectorString('billing')).toBe(
      'app.kubernetes.io/name=flowpool-worker,app.kubernetes.io/instance=billing,flowpool.dev/pool=billing',
    );
  });

  it('passes the environment contract, secrets by reference', () => {
    const deployment = renderWorkerDeployment(
      pool('billing', {
        redis: {
          urlSecretRef: { name: 'redis', key: 'url' },
          stream: 'workflow:events:billing',
          consumerGroup: 'billing-workers',
        },
        concurrency: 16,
        drainTimeoutSeconds: 45,
        podTemplate: {
          env: [
            { name: 'LOG_LEVEL', value: 'debug' },
            { name: 'TOKEN', valueFrom: { secretKeyRef: { name: 't', key: 'k' } } },
            { name: 'WORKFLOW_CONCURRENCY', value: '1' },
          ],
        },
      }),
      1,
    );
    expect(envOf(deployment)).toEqual([
      { name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: 'db', key: 'url' } } },
      { name: 'REDIS_URL', valueFrom: { secretKeyRef: { name: 'redis', key: 'url' } } },
      { name: 'WORKFLOW_REDIS_STREAM_PREFIX', value: 'workflow:events:' },
      { name: 'WORKFLOW_POOL', value: 'billing' },
      { name: 'WORKFLOW_REDIS_CONSUMER_GROUP', value: 'billing-workers' },
      { name: 'WORKFLOW_CONCURRENCY', value: '16' },
      { name: 'WORKFLOW_DRAIN_TIMEOUT_MS', value: '45000' },
      { name: 'PORT', value: '8080' },
      {
        name: 'POD_NAME',
        valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } },
      },
      { name: 'LOG_LEVEL', value: 'debug' },
      { name: 'TOKEN', valueFrom: { secretKeyRef: { name: 't', key: 'k' } } },
    ]);
    const names = envOf(deployment).map((entry) => entry.name);
    expect(new Set(names).size).toBe(names.length);
    expect(
      ignoredEnvNames(pool('x', { podTemplate: { env: [{ name: 'POD_NAME', value: 'a' }] } })),
    ).toEqual(['POD_NAME']);
  });

  it('passes literal URLs as values', () => {
    const env = envOf(
      renderWorkerDeployment(pool('lit', { database: { url: 'postgres://db/flowpool' } }), 1),
    );
    expect(env).toContainEqual({ name: 'DATABASE_URL', value: 'postgres://db/flowpool' });
    expect(env).toContainEqual({ name: 'REDIS_URL', value: 'redis://redis:6379' });
  });

  it('runs the worker with probes, a grace period above the drain deadline and a restricted security context', () => {
    const deployment = renderWorkerDeployment(pool('billing', { drainTimeoutSeconds: 60 }), 1);
    const podSpec = deployment.spec?.template.spec;
    const container = podSpec?.containers[0];
    expect(container).toMatchObject({
      name: 'worker',
      image: 'flowpool:0.1.0',
      args: ['worker'],
      ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }],
      livenessProbe: { httpGet: { path: '/healthz', port: 'http' } },
      readinessProbe: { httpGet: { path: '/readyz', port: 'http' } },
      securityContext: {
        runAsNonRoot: true,
        runAsUser: 10001,
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ['ALL'] },
        seccompProfile: { type: 'RuntimeDefault' },
      },
    });
    expect(podSpec?.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 10001,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(podSpec?.terminationGracePeriodSeconds).toBe(70);
    expect(terminationGracePeriodSeconds(60)).toBeGreaterThan(60);
    // The worker's deadline is the drain timeout, which the grace period outlasts.
    const drainMs = Number(
      container?.env?.find((entry) => entry.name === 'WORKFLOW_DRAIN_TIMEOUT_MS')?.value,
    );
    expect(drainMs).toBeLessThan(podSpec!.terminationGracePeriodSeconds! * 1000);
  });

  it('copies scheduling and identity settings from the pod template', () => {
    const deployment = renderWorkerDeployment(
      pool('billing', {
        podTemplate: {
          resources: { requests: { cpu: '250m' }, limits: { memory: '512Mi' } },
          nodeSelector: { 'kubernetes.io/os': 'linux' },
          tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'w', effect: 'NoSchedule' }],
          affinity: { nodeAffinity: {} },
          serviceAccountName: 'workers',
          imagePullSecrets: [{ name: 'registry' }],
        },
      }),
      2,
    );
    const podSpec = deployment.spec?.template.spec;
    expect(podSpec?.containers[0]?.resources).toEqual({
      requests: { cpu: '250m' },
      limits: { memory: '512Mi' },
    });
    expect(podSpec).toMatchObject({
      nodeSelector: { 'kubernetes.io/os': 'linux' },
      tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'w', effect: 'NoSchedule' }],
      affinity: { nodeAffinity: {} },
      serviceAccountName: 'workers',
      imagePullSecrets: [{ name: 'registry' }],
    });
  });

  it('leaves replicas out when none is given, and is pure', () => {
    const given = pool('billing');
    const before = structuredClone(given);
    const deployment = renderWorkerDeployment(given);
    expect(deployment.spec).not.toHaveProperty('replicas');
    expect(given).toEqual(before);
    expect(renderWorkerDeployment(given, 2)).toEqual(renderWorkerDeployment(given, 2));
    // Nothing undefined is sent: every key has a value.
    expect(JSON.stringify(deployment)).not.toContain('undefined');
    expect(JSON.parse(JSON.stringify(deployment))).toEqual(deployment);
  });

  it('refuses a stream the workers could not be told', () => {
    expect(() =>
      renderWorkerDeployment(pool('x', { redis: { url: 'redis://r:6379', stream: 'jobs' } }), 1),
    ).toThrow(StreamNameError);
  });
});
