/**
 * The pool controller: watches pools and their Deployments, keeps one
 * worker Deployment per pool (reconcile, through a work queue), and polls
 * each pool's backlog at its own interval to size it (scaling loop).
 *
 * The scaling loop never writes the Deployment itself: it records the
 * scaler's answer and queues the pool, so every write to a pool's objects
 * goes through the queue, one at a time per pool.
 */
import type { Logger } from 'pino';
import { describeError } from '../../core/errors.js';
import { redactUrl } from '../../core/redact.js';
import { decide } from '../../scaling/decide.js';
import { EMPTY_HISTORY } from '../../scaling/history.js';
import { NO_RATE_HISTORY, observeRates, type RateHistory } from '../../scaling/rates.js';
import type { ScalerHistory } from '../../scaling/types.js';
import { streamCounters } from '../../stream/backlog/counters.js';
import { unreadable } from '../../stream/backlog/redis-backlog-source.js';
import type { BacklogReading } from '../../stream/backlog/types.js';
import { KIND, type WorkflowWorkerPool } from '../api/pool.js';
import { isNotFound } from '../kube/client.js';
import type { Deployment, KubeTarget } from '../kube/types.js';
import type { OperatorMetrics } from '../metrics.js';
import { renderWorkerDeployment, WORKER_APP_NAME } from '../render/deployment.js';
import { PoolSpecError } from '../render/errors.js';
import { type PodPolicy, UNRESTRICTED_POLICY } from '../render/policy.js';
import { ConsumerHousekeeping, type PoolTarget } from './consumer-housekeeping.js';
import { PoolNotices } from './pool-notices.js';
import {
  type BacklogClient,
  BacklogConnections,
  type BacklogConnector,
  RedisUrlResolver,
  redisBacklogConnector,
} from './redis.js';
import { objectKey, Reflector, type ReflectorOptions } from './reflector.js';
import { controlledBy, scalerMetrics, scalerSpec, targetReplicas } from './scaling.js';
import {
  type ApplyOutcome,
  computeStatus,
  type LastScale,
  type StreamView,
  statusUnchanged,
} from './status.js';
import { WorkQueue, type WorkQueueOptions } from './work-queue.js';

export interface PoolControllerOptions {
  kube: KubeTarget;
  logger: Logger;
  /** Watch pools in this namespace only (WATCH_NAMESPACE); all namespaces when undefined. */
  namespace?: string | undefined;
  metrics?: OperatorMetrics | undefined;
  /** Images and ServiceAccounts pools may ask for (default: any). */
  podPolicy?: PodPolicy | undefined;
  /** Mark pods with their deletion cost before a scale down (needs pods patch; default true). */
  podDeletionCost?: boolean | undefined;
  /** Opens backlog clients for Redis URLs (tests may substitute one). */
  connector?: BacklogConnector | undefined;
  /** The scaler's clock, in ms. */
  now?: () => number;
  /** Every pool is reconciled at least this often (default 5 minutes). */
  resyncMs?: number;
  /** Pools reconciled at once (default 4). */
  workers?: number;
  /** How long a Redis URL read from a Secret is reused (default 30 s). */
  secretTtlMs?: number;
  queue?: WorkQueueOptions;
  reflector?: ReflectorOptions;
}

interface PoolRuntime {
  uid: string | undefined;
  log: Logger;
  history: ScalerHistory;
  rates: RateHistory;
  /** The scaler's last answer; undefined while paused, manual, or before the first poll. */
  desired: number | undefined;
  decision: { reason: string; message: string } | undefined;
  /** A size the scaler asked for that the reconciler has not written yet, and why. */
  pendingScale: { to: number; reason: string; message: string } | undefined;
  stream: StreamView;
  lastScale: LastScale | undefined;
  intervalMs: number;
  timer: NodeJS.Timeout | undefined;
  polling: Promise<void> | undefined;
  pollAgain: boolean;
  stopped: boolean;
  notices: PoolNotices;
}

/** The key of a pool and of its Deployment: `namespace/name`. */
export function poolKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

function splitKey(key: string): { namespace: string; name: string } {
  const slash = key.indexOf('/');
  return { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

/** The pool owning a Deployment, as a key; undefined for one no pool controls. */
function ownerKey(deployment: Deployment): string | undefined {
  const owner = deployment.metadata?.ownerReferences?.find(
    (reference) => reference.controller === true && reference.kind === KIND,
  );
  const namespace = deployment.metadata?.namespace;
  return owner && namespace ? poolKey(namespace, owner.name) : undefined;
}

/**
 * True when a newer copy of a pool asks for a reconcile: its spec changed
 * (generation), it is another pool of the same name (uid), or it is being
 * deleted. Status-only changes, most of them the operator's own, do not.
 */
function needsReconcile(previous: WorkflowWorkerPool, next: WorkflowWorkerPool): boolean {
  const before = previous.metadata;
  const after = next.metadata;
  return (
    before?.generation !== after?.generation ||
    before?.uid !== after?.uid ||
    before?.deletionTimestamp !== after?.deletionTimestamp
  );
}

function intervalOf(pool: WorkflowWorkerPool): number {
  return Math.max(1, pool.spec.autoscaling.pollIntervalSeconds) * 1000;
}

export class PoolController {
  private readonly kube: KubeTarget;
  private readonly log: Logger;
  private readonly metrics: OperatorMetrics | undefined;
  private readonly podPolicy: PodPolicy;
  private readonly podDeletionCost: boolean;
  private readonly now: () => number;
  private readonly resyncMs: number;
  private readonly workers: number;
  private readonly queue: WorkQueue;
  private readonly pools: Reflector<WorkflowWorkerPool>;
  private readonly deployments: Reflector<Deployment>;
  private readonly connections: BacklogConnections;
  private readonly urls: RedisUrlResolver;
  private readonly housekeeping: ConsumerHousekeeping;
  private readonly runtimes = new Map<string, PoolRuntime>();
  /** Polls in flight, forgotten pools' included (a forgotten runtime is no longer in `runtimes`). */
  private readonly polls = new Set<Promise<void>>();
  private running: Promise<void> | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private stopping = false;

  constructor(options: PoolControllerOptions) {
    this.kube = options.kube;
    this.log = options.logger;
    this.metrics = options.metrics;
    this.podPolicy = options.podPolicy ?? UNRESTRICTED_POLICY;
    this.podDeletionCost = options.podDeletionCost ?? true;
    this.now = options.now ?? Date.now;
    this.resyncMs = options.resyncMs ?? 5 * 60_000;
    this.workers = options.workers ?? 4;
    this.queue = new WorkQueue(options.queue);
    this.connections = new BacklogConnections(options.connector ?? redisBacklogConnector);
    this.urls = new RedisUrlResolver(this.kube, options.secretTtlMs ?? 30_000);
    this.housekeeping = new ConsumerHousekeeping(this.kube, async (target) => {
      const resolved = await this.urls.resolve(target.pool);
      return resolved.ok ? this.clientFor(target, resolved.url) : undefined;
    });
    this.pools = new Reflector(
      this.kube.pools(options.namespace),
      {
        onAdd: (pool) => this.queue.add(objectKey(pool)),
        onUpdate: (previous, pool) => {
          if (needsReconcile(previous, pool)) this.queue.add(objectKey(pool));
        },
        onDelete: (pool) => this.queue.add(objectKey(pool)),
      },
      this.log,
      options.reflector,
    );
    const enqueueOwner = (deployment: Deployment) => {
      const key = ownerKey(deployment);
      if (key !== undefined) this.queue.add(key);
    };
    this.deployments = new Reflector(
      this.kube.deployments(options.namespace, `app.kubernetes.io/name=${WORKER_APP_NAME}`),
      {
        onAdd: enqueueOwner,
        onUpdate: (_previous, deployment) => enqueueOwner(deployment),
        onDelete: enqueueOwner,
      },
      this.log,
      options.reflector,
    );
  }

  /** True once pools and Deployments have been listed. */
  get synced(): boolean {
    return this.pools.synced && this.deployments.synced;
  }

  /** Starts watching and reconciling; resolves once both watches have listed. */
  async start(): Promise<void> {
    if (this.running || this.stopping) return;
    this.pools.start();
    this.deployments.start();
    await Promise.all([this.pools.waitForSync(), this.deployments.waitForSync()]);
    if (this.stopping) return;
    this.running = this.queue.run(
      this.workers,
      (key) => this.reconcile(key),
      (key, error, retryInMs) =>
        this.log.warn(
          { pool: key, err: describeError(error), retryInMs },
          'reconcile failed; retrying',
        ),
    );
    this.resyncTimer = setInterval(() => {
      for (const key of this.pools.keys()) this.queue.add(key);
    }, this.resyncMs);
    this.resyncTimer.unref?.();
    this.log.info('pool controller started');
  }

  /** Stops watches, polls and workers, and closes Redis clients. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    this.queue.shutdown();
    for (const runtime of this.runtimes.values()) {
      runtime.stopped = true;
      if (runtime.timer) clearTimeout(runtime.timer);
    }
    await Promise.all([this.pools.stop(), this.deployments.stop(), this.running, this.pollsDone()]);
    // A stopped controller (e.g. one that lost the lease) vouches for no pool's figures.
    for (const key of this.runtimes.keys()) {
      const { namespace, name } = splitKey(key);
      this.urls.forget(namespace, name);
      this.metrics?.forgetPool(namespace, name);
    }
    this.runtimes.clear();
    this.connections.closeAll();
    this.log.info('pool controller stopped');
  }

  // ---------------------------------------------------------------- reconcile

  /** Reconciles one pool: its Deployment, then its status. Throws to be retried with backoff. */
  async reconcile(key: string): Promise<void> {
    const started = performance.now();
    let ok = false;
    try {
      await this.reconcileOnce(key);
      ok = true;
    } finally {
      this.log.debug({ pool: key, ok, ms: Math.round(performance.now() - started) }, 'reconciled');
      this.metrics?.recordReconcile((performance.now() - started) / 1000, ok);
    }
  }

  private async reconcileOnce(key: string): Promise<void> {
    const pool = this.pools.get(key);
    if (pool === undefined || pool.metadata.deletionTimestamp) {
      // Gone or going: the garbage collector removes the Deployment with it.
      this.forget(key);
      return;
    }
    const { namespace, name } = splitKey(key);
    const runtime = this.ensureRuntime(key, pool);
    let deployment = this.deployments.get(key);
    let target: number | undefined;
    let apply: ApplyOutcome = { kind: 'paused' };
    let retry: unknown;

    if (!pool.spec.paused) {
      if (!pool.spec.autoscaling.enabled) runtime.desired = undefined;
      target = targetReplicas(pool, runtime.desired, deployment);
      // The watch sees only Deployments with the worker label: look up one that lacks it.
      deployment ??= await this.kube.getDeployment(namespace, name);
      // A server-side apply with force would take over whatever has the name, so
      // a Deployment this pool does not control (another owner's, a former pool's
      // of the same name, one orphaned on purpose) is refused, cached or not.
      const conflict = deployment !== undefined && !controlledBy(deployment, pool);
      if (conflict) {
        apply = {
          kind: 'failed',
          reason: 'DeploymentConflict',
          message: `Deployment ${namespace}/${name} exists and is not controlled by this pool; delete or rename it`,
        };
        retry = new Error(apply.message);
      } else {
        const running = deployment?.spec?.replicas;
        if (this.podDeletionCost && running !== undefined && target < running) {
          await this.housekeeping.markDeletionCosts(this.target(key, pool, runtime));
        }
        const result = await this.applyDeployment(pool, runtime, deployment, target);
        apply = result.apply;
        deployment = result.deployment;
        retry = result.retry;
      }
    }

    if (apply.kind === 'failed') {
      runtime.notices.warn(pool, apply.reason, apply.message);
    } else {
      for (const reason of [
        'ApplyFailed',
        'InvalidStream',
        'DeploymentConflict',
        'ImageNotAllowed',
        'ServiceAccountNotAllowed',
      ]) {
        runtime.notices.cleared(reason);
      }
    }

    const patch = computeStatus({
      pool,
      deployment,
      target,
      apply,
      stream: runtime.stream,
      decision: this.decisionFor(pool, runtime),
      lastScale: runtime.lastScale,
      now: new Date(this.now()),
    });
    if (!statusUnchanged(pool.status, patch)) {
      try {
        const updated = await this.kube.patchPoolStatus(namespace, name, patch);
        this.rememberStatusAnswer(key, pool, updated);
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
    }
    this.metrics?.recordPoolReplicas(namespace, name, {
      desiredReplicas: target,
      currentReplicas: deployment?.status?.replicas ?? 0,
      readyReplicas: deployment?.status?.readyReplicas ?? 0,
    });
    if (retry !== undefined) throw retry;
  }

  /**
   * Caches the server's answer to a status patch, so reads do not wait for
   * the watch. Hazard: a spec change that reached the server after this
   * reconcile read the pool but before the patch comes back inside the
   * answer. Its own watch event is then older than the cached copy and
   * dropped, and the patch's event carries the same generation, so the
   * update handler never sees the change: queue the pool again here.
   */
  private rememberStatusAnswer(
    key: string,
    reconciled: WorkflowWorkerPool,
    answer: WorkflowWorkerPool,
  ): void {
    this.pools.remember(answer);
    if (needsReconcile(reconciled, answer)) this.queue.add(key);
  }

  private async applyDeployment(
    pool: WorkflowWorkerPool,
    runtime: PoolRuntime,
    previous: Deployment | undefined,
    target: number,
  ): Promise<{ apply: ApplyOutcome; deployment: Deployment | undefined; retry?: unknown }> {
    let manifest: Deployment;
    try {
      manifest = renderWorkerDeployment(pool, target, this.podPolicy);
    } catch (error) {
      if (!(error instanceof PoolSpecError)) throw error;
      // Only a spec change can fix this: no retry.
      return {
        apply: { kind: 'failed', reason: error.reason, message: error.message },
        deployment: previous,
      };
    }
    let applied: Deployment;
    try {
      applied = await this.kube.applyDeployment(manifest);
    } catch (error) {
      return {
        apply: {
          kind: 'failed',
          reason: 'ApplyFailed',
          message: `applying Deployment ${pool.metadata.name}: ${describeError(error)}`,
        },
        deployment: previous,
        retry: error,
      };
    }
    this.deployments.remember(applied);
    this.recordScale(pool, runtime, previous, target);
    return { apply: { kind: 'applied' }, deployment: applied };
  }

  /** Bookkeeping and an Event when an apply created the Deployment or changed its size. */
  private recordScale(
    pool: WorkflowWorkerPool,
    runtime: PoolRuntime,
    previous: Deployment | undefined,
    target: number,
  ): void {
    const { namespace = 'default', name = '' } = pool.metadata;
    // The scaler's reason belongs to this write only if it asked for this size
    // (a poll may have asked for another one while this reconcile ran).
    const asked = runtime.pendingScale?.to === target ? runtime.pendingScale : undefined;
    if (asked) runtime.pendingScale = undefined;
    if (previous === undefined) {
      runtime.notices.normal(
        pool,
        'DeploymentCreated',
        `created Deployment ${name} with ${target} replicas`,
      );
      return;
    }
    const from = previous.spec?.replicas ?? 1;
    if (from === target) return;
    const why =
      asked ??
      (pool.spec.autoscaling.enabled
        ? {
            reason: 'ReplicaBounds',
            message: `keeping replicas within [${pool.spec.autoscaling.minReplicas}, ${pool.spec.autoscaling.maxReplicas}]`,
          }
        : {
            reason: 'ManualReplicas',
            message: `autoscaling disabled; running spec.replicas ${pool.spec.replicas}`,
          });
    runtime.lastScale = {
      time: new Date(this.now()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      reason: why.reason,
    };
    this.metrics?.recordScale(namespace, name, from, target);
    runtime.log.info(
      { from, to: target, reason: why.reason, decision: why.message },
      'scaled worker Deployment',
    );
    runtime.notices.normal(pool, why.reason, `scaled ${from} → ${target}: ${why.message}`);
  }

  private decisionFor(
    pool: WorkflowWorkerPool,
    runtime: PoolRuntime,
  ): { reason: string; message: string } | undefined {
    if (pool.spec.paused) return undefined;
    if (!pool.spec.autoscaling.enabled) {
      return {
        reason: 'ManualReplicas',
        message: `autoscaling disabled; running spec.replicas ${pool.spec.replicas}`,
      };
    }
    return runtime.decision;
  }

  // ------------------------------------------------------------- per-pool state

  private ensureRuntime(key: string, pool: WorkflowWorkerPool): PoolRuntime {
    let runtime = this.runtimes.get(key);
    if (runtime !== undefined && runtime.uid !== pool.metadata.uid) {
      // The pool was deleted and created again under the same name.
      this.forget(key);
      runtime = undefined;
    }
    if (runtime === undefined) {
      const status = pool.status;
      const log = this.log.child({ namespace: pool.metadata.namespace, pool: pool.metadata.name });
      runtime = {
        uid: pool.metadata.uid,
        log,
        history: EMPTY_HISTORY,
        rates: NO_RATE_HISTORY,
        desired: undefined,
        decision: undefined,
        pendingScale: undefined,
        stream: { kind: 'not-polled' },
        lastScale:
          status?.lastScaleTime && status.lastScaleReason
            ? { time: status.lastScaleTime, reason: status.lastScaleReason }
            : undefined,
        intervalMs: intervalOf(pool),
        timer: undefined,
        polling: undefined,
        pollAgain: false,
        stopped: false,
        notices: new PoolNotices(this.kube, log),
      };
      this.runtimes.set(key, runtime);
      this.schedulePoll(key, runtime, 0);
      return runtime;
    }
    const interval = intervalOf(pool);
    if (interval !== runtime.intervalMs) {
      runtime.intervalMs = interval;
      this.schedulePoll(key, runtime, 0);
    }
    return runtime;
  }

  /** Stops polling a pool and drops what was kept about it. */
  private forget(key: string): void {
    const runtime = this.runtimes.get(key);
    if (runtime === undefined) return;
    runtime.stopped = true;
    if (runtime.timer) clearTimeout(runtime.timer);
    this.runtimes.delete(key);
    this.connections.release(key);
    const { namespace, name } = splitKey(key);
    this.urls.forget(namespace, name);
    this.metrics?.forgetPool(namespace, name);
    runtime.log.info('pool gone; stopped polling it');
  }

  private target(key: string, pool: WorkflowWorkerPool, runtime: PoolRuntime): PoolTarget {
    return { ...splitKey(key), pool, log: runtime.log, live: () => !runtime.stopped };
  }

  /** The pool's Redis client for `url`; undefined once the pool has been forgotten. */
  private clientFor(target: PoolTarget, url: string): BacklogClient | undefined {
    // Hazard: callers await a Secret read or a pod list first, and forget()
    // may run meanwhile; a client registered for the pool after that would
    // never be released (nor its connection closed).
    if (!target.live()) return undefined;
    return this.connections.use(poolKey(target.namespace, target.name), url);
  }

  // ---------------------------------------------------------------- polling

  /** Resolves once the backlog polls in flight now have ended, forgotten pools' included. */
  async pollsDone(): Promise<void> {
    await Promise.all([...this.polls]);
  }

  private schedulePoll(key: string, runtime: PoolRuntime, delayMs: number): void {
    if (runtime.stopped || this.stopping) return;
    if (runtime.polling) {
      // One poll at a time: the next one follows as soon as this one ends.
      if (delayMs === 0) runtime.pollAgain = true;
      return;
    }
    if (runtime.timer) clearTimeout(runtime.timer);
    runtime.timer = setTimeout(() => {
      runtime.timer = undefined;
      const started = Date.now();
      const polling = this.poll(key, runtime)
        .catch((error) => runtime.log.error({ err: describeError(error) }, 'backlog poll failed'))
        .finally(() => {
          this.polls.delete(polling);
          runtime.polling = undefined;
          const again = runtime.pollAgain;
          runtime.pollAgain = false;
          const wait = again ? 0 : Math.max(0, started + runtime.intervalMs - Date.now());
          this.schedulePoll(key, runtime, wait);
        });
      runtime.polling = polling;
      this.polls.add(polling);
    }, delayMs);
    runtime.timer.unref?.();
  }

  /** One poll: read the backlog, decide, tidy consumers, queue the pool. */
  private async poll(key: string, runtime: PoolRuntime): Promise<void> {
    let pool = this.pools.get(key);
    if (pool === undefined || pool.metadata.deletionTimestamp || runtime.stopped) return;
    const read = await this.readBacklog(this.target(key, pool, runtime));
    if (read === undefined || runtime.stopped) return;
    const { reading, view } = read;
    pool = this.pools.get(key) ?? pool;
    const { namespace, name } = splitKey(key);

    const now = this.now();
    const deployment = this.deployments.get(key);
    const observed = observeRates(
      runtime.rates,
      streamCounters(reading),
      {
        replicas: deployment?.spec?.replicas ?? 0,
        readyReplicas: deployment?.status?.readyReplicas ?? 0,
        concurrency: pool.spec.concurrency,
      },
      now,
      intervalOf(pool),
    );
    runtime.rates = observed.history;
    const current = deployment?.spec?.replicas ?? targetReplicas(pool, runtime.desired, undefined);
    const decision = decide(
      scalerMetrics(reading, current, observed.rates),
      runtime.history,
      scalerSpec(pool),
      now,
    );
    runtime.history = decision.history;
    runtime.decision = { reason: decision.reason, message: decision.message };
    runtime.stream = view;
    this.metrics?.recordPoll(reading.readOk);
    this.metrics?.recordPoolReading(namespace, name, {
      backlog: reading.readOk ? reading.backlog : undefined,
      streamReachable: reading.readOk,
      ...observed.rates,
    });
    runtime.notices.stream(pool, view);

    if (!pool.spec.paused && pool.spec.autoscaling.enabled) {
      const desired = decision.desiredReplicas;
      if (desired !== current) {
        runtime.pendingScale = { to: desired, reason: decision.reason, message: decision.message };
      }
      runtime.desired = desired;
    } else {
      runtime.desired = undefined;
    }
    const active = !pool.spec.paused && deployment !== undefined;
    if (active && reading.readOk && reading.consumers && reading.consumers.length > 0) {
      await this.housekeeping.forgetDeletedConsumers(
        this.target(key, pool, runtime),
        reading.consumers,
      );
      // Forgotten meanwhile: its series are gone and must stay gone.
      if (runtime.stopped) return;
    }
    this.metrics?.recordPollEnd(namespace, name, this.now());
    this.queue.add(key);
  }

  /**
   * The pool's backlog, and how the StreamReachable condition should
   * describe it; undefined when the pool was forgotten meanwhile.
   */
  private async readBacklog(
    target: PoolTarget,
  ): Promise<{ reading: BacklogReading; view: StreamView } | undefined> {
    const resolved = await this.urls.resolve(target.pool);
    if (!resolved.ok) {
      return {
        reading: unreadable({ code: 'RedisUnavailable', message: resolved.message }),
        view: { kind: 'unreadable', reason: resolved.reason, message: resolved.message },
      };
    }
    const client = this.clientFor(target, resolved.url);
    if (client === undefined) return undefined;
    const { stream, consumerGroup } = target.pool.spec.redis;
    const reading = await client.read(stream, consumerGroup);
    const view: StreamView = reading.readOk
      ? { kind: 'read', reading }
      : {
          kind: 'unreadable',
          reason: reading.error.code,
          message: reading.error.message,
          url: redactUrl(resolved.url),
        };
    return { reading, view };
  }
}
