/**
 * The controller against an in-memory KubeTarget: failure paths and
 * interleavings that a real API server does not produce on demand.
 */
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { BacklogReading } from '../../stream/backlog/types.js';
import {
  API_VERSION,
  KIND,
  type WorkflowWorkerPool,
  type WorkflowWorkerPoolSpec,
  withDefaults,
} from '../api/pool.js';
import { KubeApiError } from '../kube/client.js';
import type {
  Deployment,
  KubeEvent,
  KubeObject,
  KubeTarget,
  ListWatch,
  PoolStatusPatch,
  WatchEvent,
} from '../kube/types.js';
import { OperatorMetrics } from '../metrics.js';
import { PoolController } from './controller.js';

/** A list the test fills and a watch whose events the test sends. */
class DrivenListWatch<T extends KubeObject> implements ListWatch<T> {
  readonly description = 'fake';
  private listener: ((event: WatchEvent<T>) => void) | undefined;

  constructor(private readonly items: () => T[]) {}

  async list() {
    return { items: this.items(), resourceVersion: '1' };
  }

  watch(_resourceVersion: string, onEvent: (event: WatchEvent<T>) => void, signal: AbortSignal) {
    this.listener = onEvent;
    return new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
  }

  get watching(): boolean {
    return this.listener !== undefined;
  }

  send(event: WatchEvent<T>): void {
    if (this.listener === undefined) throw new Error('nobody is watching yet');
    this.listener(event);
  }
}

type SecretAnswer = Awaited<ReturnType<KubeTarget['readSecretKey']>>;

/** The API server, in memory: poolItems[0] is the server's copy of the pool. */
class FakeKube implements KubeTarget {
  readonly poolItems: WorkflowWorkerPool[] = [];
  readonly deploymentItems: Deployment[] = [];
  readonly existing = new Map<string, Deployment>();
  readonly applied: Deployment[] = [];
  readonly statuses: PoolStatusPatch[] = [];
  readonly events: KubeEvent[] = [];
  readonly poolWatch = new DrivenListWatch(() => this.poolItems);
  readonly deploymentWatch = new DrivenListWatch(() => this.deploymentItems);
  applyFailures = 0;
  secretReads = 0;
  /** Answers Secret reads; the default says the Secret is missing. */
  secret: () => Promise<SecretAnswer> = async () => ({ found: 'secret-missing' });
  /** Runs once, just before the next status patch lands (e.g. someone else's write). */
  beforeStatusPatch: (() => void) | undefined;
  private version = 100;

  nextVersion(): string {
    this.version++;
    return String(this.version);
  }

  /** A user's spec change: a new generation and resourceVersion of the server's copy. */
  updateSpec(change: Partial<WorkflowWorkerPoolSpec>): WorkflowWorkerPool {
    const current = this.poolItems[0]!;
    const updated: WorkflowWorkerPool = {
      ...current,
      metadata: {
        ...current.metadata,
        generation: (current.metadata.generation ?? 0) + 1,
        resourceVersion: this.nextVersion(),
      },
      spec: { ...current.spec, ...change },
    };
    this.poolItems[0] = updated;
    return updated;
  }

  pools(): ListWatch<WorkflowWorkerPool> {
    return this.poolWatch;
  }
  deployments(): ListWatch<Deployment> {
    return this.deploymentWatch;
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
    return {
      ...deployment,
      metadata: { ...deployment.metadata, resourceVersion: this.nextVersion() },
    };
  }
  async patchPoolStatus(_namespace: string, _name: string, status: PoolStatusPatch) {
    this.statuses.push(status);
    const before = this.beforeStatusPatch;
    this.beforeStatusPatch = undefined;
    before?.();
    const current = this.poolItems[0]!;
    const updated: WorkflowWorkerPool = {
      ...current,
      metadata: { ...current.metadata, resourceVersion: this.nextVersion() },
      status: status as WorkflowWorkerPool['status'],
    };
    this.poolItems[0] = updated;
    return updated;
  }
  async listPods() {
    return [];
  }
  async annotatePod() {}
  async readSecretKey() {
    this.secretReads++;
    return this.secret();
  }
  async emitEvent(event: KubeEvent) {
    this.events.push(event);
  }
}

function pool(change: (spec: Record<string, unknown>) => void = () => {}): WorkflowWorkerPool {
  const spec: Record<string, unknown> = {
    image: 'flowpool:0.1.0',
    redis: { url: 'redis://r:6379' },
    database: { url: 'postgres://db/x' },
    autoscaling: { pollIntervalSeconds: 1 },
  };
  change(spec);
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name: 'p', namespace: 'ns', uid: 'uid-p', generation: 1, resourceVersion: '1' },
    spec: withDefaults(spec as Parameters<typeof withDefaults>[0]),
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

function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((done) => {
    resolve = done;
  });
  return { promise, resolve };
}

async function until(check: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

let controller: PoolController | undefined;
let releaseReads: (() => void) | undefined;
afterEach(async () => {
  // A poll held at its read would keep stop() waiting.
  releaseReads?.();
  releaseReads = undefined;
  await controller?.stop();
  controller = undefined;
});

interface StartOptions {
  /** The backlog reading; the default answers at once with an empty backlog. */
  read?: () => Promise<BacklogReading>;
  metrics?: OperatorMetrics;
  /** Counts Redis clients opened and closed. */
  clients?: { opened: number; closed: number };
  resyncMs?: number;
  /** Retry delays of the work queue (default 20-100 ms). */
  backoffMs?: number;
}

function start(kube: FakeKube, options: StartOptions = {}) {
  const clients = options.clients ?? { opened: 0, closed: 0 };
  controller = new PoolController({
    kube,
    logger: pino({ level: 'silent' }),
    metrics: options.metrics,
    connector: () => {
      clients.opened++;
      return {
        client: {
          read: options.read ?? (async () => reading),
          consumers: async () => ({ readOk: true, streamState: 'present', consumers: [] }),
          removeConsumer: async () => ({ outcome: 'not-found' }),
        },
        close: () => {
          clients.closed++;
        },
      };
    },
    queue: {
      baseDelayMs: options.backoffMs ?? 20,
      maxDelayMs: options.backoffMs ?? 100,
      jitter: 0,
    },
    ...(options.resyncMs === undefined ? {} : { resyncMs: options.resyncMs }),
  });
  return controller.start();
}

/** Holds every backlog read until the test ends, so polls queue no reconciles meanwhile. */
function heldReads(): () => Promise<BacklogReading> {
  const gate = deferred<BacklogReading>();
  releaseReads = () => gate.resolve(reading);
  return () => gate.promise;
}

function lastCondition(kube: FakeKube, type: string) {
  for (let i = kube.statuses.length - 1; i >= 0; i--) {
    const found = kube.statuses[i]?.conditions?.find((c) => c.type === type);
    if (found) return found;
  }
  return undefined;
}

function imageOf(deployment: Deployment): string | undefined {
  return deployment.spec?.template.spec?.containers[0]?.image;
}

async function poolSeries(metrics: OperatorMetrics): Promise<string[]> {
  const text = (await metrics.render()).body;
  return text.split('\n').filter((line) => line.includes('pool="p"'));
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

  /** A Deployment named like the pool's but controlled by something else. */
  function deploymentOfAnotherOwner() {
    return {
      metadata: {
        name: 'p',
        namespace: 'ns',
        ownerReferences: [
          { apiVersion: 'apps/v1', kind: 'Other', name: 'x', uid: 'other', controller: true },
        ],
      },
      spec: { replicas: 2, selector: {}, template: {} },
    };
  }

  it('will not take over a Deployment of the same name that another owner controls', async () => {
    const kube = new FakeKube();
    kube.poolItems.push(pool());
    kube.existing.set('ns/p', deploymentOfAnotherOwner());
    await start(kube);
    await until(() => lastCondition(kube, 'Ready')?.reason === 'DeploymentConflict');
    expect(lastCondition(kube, 'Ready')?.message).toContain('not controlled by this pool');
    expect(kube.applied).toHaveLength(0);
  });
  it('also refuses a cached Deployment of the same name that this pool does not control', async () => {
    const kube = new FakeKube();
    kube.poolItems.push(pool());
    // A worker Deployment left by an earlier pool of the same name (another uid).
    kube.deploymentItems.push({
      metadata: {
        name: 'p',
        namespace: 'ns',
        resourceVersion: '5',
        labels: { 'app.kubernetes.io/name': 'flowpool-worker' },
        ownerReferences: [
          { apiVersion: API_VERSION, kind: KIND, name: 'p', uid: 'uid-old', controller: true },
        ],
      },
      spec: { replicas: 2, selector: {}, template: {} },
    });
    await start(kube);
    await until(() => lastCondition(kube, 'Ready')?.reason === 'DeploymentConflict');
    expect(lastCondition(kube, 'Ready')?.message).toContain('not controlled by this pool');
    expect(kube.events.map((event) => event.reason)).toContain('DeploymentConflict');
    expect(kube.applied).toHaveLength(0);
  });

  it('keeps reading the backlog each interval while its reconcile fails and backs off', async () => {
    const kube = new FakeKube();
    kube.poolItems.push(pool());
    // Every reconcile fails on the conflict and is retried a minute later.
    kube.existing.set('ns/p', deploymentOfAnotherOwner());
    let reads = 0;
    await start(kube, {
      backoffMs: 60_000,
      read: async () => {
        reads++;
        return reading;
      },
    });
    // The poll interval is 1 s: three reads come long before the backoff ends.
    await until(() => reads >= 3, 10_000);
    expect(lastCondition(kube, 'Ready')?.reason).toBe('DeploymentConflict');
  });

  it('reconciles a spec change that landed just before its own status patch', async () => {
    const kube = new FakeKube();
    kube.poolItems.push(pool());
    await start(kube, { read: heldReads() });
    await until(() => kube.statuses.length === 1 && kube.poolWatch.watching);

    // The user changes the image twice; the second change reaches the server
    // between this reconcile's read of the pool and its status patch.
    let raced: WorkflowWorkerPool | undefined;
    kube.beforeStatusPatch = () => {
      raced = kube.updateSpec({ image: 'flowpool:0.1.2' });
    };
    kube.poolWatch.send({ type: 'MODIFIED', object: kube.updateSpec({ image: 'flowpool:0.1.1' }) });
    await until(() => kube.statuses.length >= 2);
    expect(kube.applied.map(imageOf)).toContain('flowpool:0.1.1');
    // The watch reports the change after the patch's answer, which already
    // holds its generation, and then the patch itself.
    kube.poolWatch.send({ type: 'MODIFIED', object: raced! });
    kube.poolWatch.send({ type: 'MODIFIED', object: kube.poolItems[0]! });

    // Polls are held and the resync is minutes away: only the controller itself can notice.
    await until(() => kube.applied.map(imageOf).includes('flowpool:0.1.2'));
    await until(() => kube.statuses.at(-1)?.observedGeneration === 3);
  });

  it('reconciles every known pool again at each resync, with no event to prompt it', async () => {
    const kube = new FakeKube();
    kube.poolItems.push(pool());
    const metrics = new OperatorMetrics(false);
    // Reads held: no poll queues a reconcile, so only the resync can.
    await start(kube, { read: heldReads(), metrics, resyncMs: 100 });
    const reconciles = async () => {
      const { body } = await metrics.render();
      const line = body
        .split('\n')
        .find((l) => l.startsWith('flowpool_operator_reconcile_total{result="success"}'));
      return Number(line?.split(' ').at(-1));
    };
    await until(async () => (await reconciles()) >= 1);
    const first = await reconciles();
    await until(async () => (await reconciles()) >= first + 3);
    expect(kube.poolWatch.watching).toBe(true);
  });

  it('opens no Redis client for a pool deleted while its poll read the Secret', async () => {
    const kube = new FakeKube();
    kube.poolItems.push(
      pool((spec) => {
        spec.redis = { urlSecretRef: { name: 'redis', key: 'url' } };
      }),
    );
    const secret = deferred<SecretAnswer>();
    kube.secret = () => secret.promise;
    const metrics = new OperatorMetrics(false);
    const clients = { opened: 0, closed: 0 };
    await start(kube, { metrics, clients });
    await until(
      () => kube.secretReads === 1 && kube.statuses.length === 1 && kube.poolWatch.watching,
    );

    kube.poolWatch.send({ type: 'DELETED', object: kube.poolItems[0]! });
    // The reconcile of the deletion has forgotten the pool once its series are gone.
    await until(async () => (await poolSeries(metrics)).length === 0);
    secret.resolve({ found: 'value', value: 'redis://r:6379' });
    await controller!.pollsDone();
    expect(clients).toEqual({ opened: 0, closed: 0 });
  });

  it('forgets the series of every pool when it stops', async () => {
    const kube = new FakeKube();
    kube.poolItems.push(pool());
    const metrics = new OperatorMetrics(false);
    await start(kube, { metrics });
    await until(async () =>
      (await poolSeries(metrics)).some((line) => line.startsWith('flowpool_operator_pool_backlog')),
    );
    const running = controller!;
    controller = undefined;
    await running.stop();
    expect(await poolSeries(metrics)).toEqual([]);
  });

  it('reports a stream name workers could not be given, without retrying', async () => {
    // The CRD refuses such names; this is what an older CRD would let through.
    const kube = new FakeKube();
    kube.poolItems.push(
      pool((spec) => {
        spec.redis = { url: 'redis://r:6379', stream: 'jobs' };
      }),
    );
    await start(kube);
    await until(() => lastCondition(kube, 'Ready')?.reason === 'InvalidStream');
    expect(lastCondition(kube, 'Ready')?.message).toContain('WORKFLOW_REDIS_STREAM_PREFIX');
    expect(kube.events.filter((event) => event.reason === 'InvalidStream')).toHaveLength(1);
    expect(kube.applied).toHaveLength(0);
  });
});
