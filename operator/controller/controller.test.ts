/**
 * The controller against an in-memory KubeTarget: failure paths that a
 * real API server does not produce on demand.
 */
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { API_VERSION, KIND, type WorkflowWorkerPool, withDefaults } from '../api/pool.js';
import type { BacklogReading } from '../backlog/types.js';
import { KubeApiError } from '../kube/client.js';
import type {
  Deployment,
  KubeEvent,
  KubeObject,
  KubeTarget,
  ListWatch,
  PoolStatusPatch,
} from '../kube/types.js';
import { PoolController } from './controller.js';

function staticList<T extends KubeObject>(items: () => T[]): ListWatch<T> {
  return {
    description: 'fake',
    list: async () => ({ items: items(), resourceVersion: '1' }),
    watch: (_rv, _onEvent, signal) =>
      new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve())),
  };
}

class FakeKube implements KubeTarget {
  readonly poolItems: WorkflowWorkerPool[] = [];
  readonly existing = new Map<string, Deployment>();
  readonly applied: Deployment[] = [];
  readonly statuses: PoolStatusPatch[] = [];
  readonly events: KubeEvent[] = [];
  applyFailures = 0;

  pools(): ListWatch<WorkflowWorkerPool> {
    return staticList(() => this.poolItems);
  }
  deployments(): ListWatch<Deployment> {
    return staticList(() => []);
  }
  async getDeployment(namespace: string, name: string) {
    return this.existing.get(`${namespace}/${name}`);
  }
  async applyDeployment(deployment: Deployment) {
    if (this.applyFailures > 0) {
      this.applyFailures--;
      throw new KubeApiError(500, 'InternalError', 'etcd is sad');
    }
    this.applied.push(deployment);
    const resourceVersion = String(this.applied.length + 1);
    return { ...deployment, metadata: { ...deployment.metadata, resourceVersion } };
  }
  async patchPoolStatus(_namespace: string, _name: string, status: PoolStatusPatch) {
    this.statuses.push(status);
    return { ...this.poolItems[0]!, status: status as WorkflowWorkerPool['status'] };
  }
  async listPods() {
    return [];
  }
  async annotatePod() {}
  async readSecretKey() {
    return { found: 'secret-missing' as const };
  }
  async emitEvent(event: KubeEvent) {
    this.events.push(event);
  }
}

function pool(): WorkflowWorkerPool {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name: 'p', namespace: 'ns', uid: 'uid-p', generation: 1, resourceVersion: '1' },
    spec: withDefaults({
      image: 'flowpool:0.1.0',
      redis: { url: 'redis://r:6379' },
      database: { url: 'postgres://db/x' },
      autoscaling: { pollIntervalSeconds: 1 },
    }),
  };
}

const reading: BacklogReading = {
  readOk: true,
  lag: 0,
  pending: 0,
  backlog: 0,
  lagSource: 'xinfo',
  streamState: 'present',
  consumers: [],
};

async function until(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

let controller: PoolController | undefined;
afterEach(async () => {
  await controller?.stop();
  controller = undefined;
});

function start(kube: KubeTarget) {
  controller = new PoolController({
    kube,
    logger: pino({ level: 'silent' }),
    connector: () => ({
      client: {
        read: async () => reading,
        consumers: async () => ({ readOk: true, streamState: 'present', consumers: [] }),
        removeConsumer: async () => ({ outcome: 'not-found' }),
      },
      close: () => {},
    }),
    queue: { baseDelayMs: 20, maxDelayMs: 100, jitter: 0 },
  });
  return controller.start();
}

function lastCondition(kube: FakeKube, type: string) {
  for (let i = kube.statuses.length - 1; i >= 0; i--) {
    const found = kube.statuses[i]?.conditions?.find((c) => c.type === type);
    if (found) return found;
  }
  return undefined;
}

describe('PoolController (in memory)', () => {
  it('retries a failed apply with backoff, saying so in Ready and in one Warning', async () => {
    const kube = new FakeKube();
    kube.poolItems.push(pool());
    kube.applyFailures = 3;
    await start(kube);
    await until(() => kube.applied.length === 1);
    const warnings = kube.events.filter((event) => event.reason === 'ApplyFailed');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({
      type: 'Warning',
      message: expect.stringContaining('etcd is sad'),
    });
    const failed = kube.statuses.find((status) =>
      status.conditions?.some((c) => c.type === 'Ready' && c.reason === 'ApplyFailed'),
    );
    expect(failed).toBeDefined();
    await until(() => lastCondition(kube, 'Ready')?.reason !== 'ApplyFailed');
    expect(kube.events.map((event) => event.reason)).toContain('DeploymentCreated');
  });

  it('will not take over a Deployment of the same name that another owner controls', async () => {
    const kube = new FakeKube();
    kube.poolItems.push(pool());
    kube.existing.set('ns/p', {
      metadata: {
        name: 'p',
        namespace: 'ns',
        ownerReferences: [
          { apiVersion: 'apps/v1', kind: 'Other', name: 'x', uid: 'other', controller: true },
        ],
      },
      spec: { replicas: 2, selector: {}, template: {} },
    });
    await start(kube);
    await until(() => lastCondition(kube, 'Ready')?.reason === 'DeploymentConflict');
    expect(lastCondition(kube, 'Ready')?.message).toContain('not controlled by this pool');
    expect(kube.applied).toHaveLength(0);
  });
});
