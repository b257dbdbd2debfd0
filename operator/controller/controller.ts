/**
 * The pool controller: watches pools and their Deployments and keeps one
 * worker Deployment per pool, sized by the pool's autoscaler.
 *
 * One handler, `reconcile(key)`, run from one work queue, is the only
 * writer of a pool's state (PoolState) and of its objects; the queue never
 * hands a key to two workers at once. Periodic polling is a requeue-after
 * on that queue: a reconcile that finds a poll due starts a backlog read and
 * asks to run again at the next one. The read itself writes nothing of the
 * pool's: it leaves its result in the pool's ReadingSlot and queues the
 * pool, and the next reconcile takes the reading, decides and applies, in
 * that order, in one handler.
 *
 * Hazard this shape removes: with a poll loop and a reconcile loop both
 * writing one record, the reconcile had to guess which poll the size it
 * wrote came from, and a poll could change the answer while a reconcile was
 * applying the previous one.
 */
import type { Logger } from 'pino';
import { logText } from '../../core/error-record.js';
import { redactUrl } from '../../core/redact.js';
import { Autoscaler, pollIntervalMs } from '../../scaling/autoscaler.js';
import { manualReplicas, type ReplicaRule, replicaRule } from '../../scaling/replica-rule.js';
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
import { controlledBy, scalerSpec, targetReplicas } from './scaling.js';
import {
  type ApplyOutcome,
  computeStatus,
  type LastScale,
  type StreamView,
  statusUnchanged,
} from './status.js';
import { type HandlerResult, WorkQueue, type WorkQueueOptions } from './work-queue.js';

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

/** One backlog read, as the reconcile takes it. */
interface Observed {
  reading: BacklogReading;
  view: StreamView;
}

/**
 * The hand-off between a pool's backlog read and its reconcile: the read
 * puts its result here and queues the pool; the reconcile takes it. At most
 * one read is in flight per pool, and a newer result replaces one not yet
 * taken (the scaler wants the latest figures, not every one).
 */
class ReadingSlot {
  inFlight: Promise<void> | undefined;
  private result: Observed | undefined;

  put(observed: Observed): void {
    this.result = observed;
  }

  take(): Observed | undefined {
    const result = this.result;
    this.result = undefined;
    return result;
  }
}

/** What the controller keeps about a pool; written by its reconcile alone. */
interface PoolState {
  uid: string | undefined;
  log: Logger;
  autoscaler: Autoscaler;
  /** The scaler's last answer; undefined while paused, manual, or before the first reading. */
  desired: number | undefined;
  decision: { reason: string; message: string } | undefined;
  /** A size the scaler asked for that no apply has written yet, and why. */
  unwritten: { to: number; reason: string; message: string } | undefined;
  stream: StreamView;
  lastScale: LastScale | undefined;
  intervalMs: number;
  /** When the next backlog read is due (Date.now() ms); 0 for at once. */
  nextPollAt: number;
  readings: ReadingSlot;
  /** Set once the pool is forgotten: a read still in flight must not hand anything over. */
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

/** Warnings an apply raises; a later apply that does not fail clears them all. */
const APPLY_WARNINGS = [
  'ApplyFailed',
  'InvalidStream',
  'DeploymentConflict',
  'ImageNotAllowed',
  'ServiceAccountNotAllowed',
] as const;

/** The decision the status shows: none while paused, spec.replicas while manual, else the scaler's. */
function decisionFor(
  rule: ReplicaRule,
  pool: WorkflowWorkerPool,
  scalers: { reason: string; message: string } | undefined,
): { reason: string; message: string } | undefined {
  if (rule.kind === 'paused') return undefined;
  if (rule.kind === 'manual') return manualReplicas(pool.spec.replicas);
  return scalers;
}

function intervalOf(pool: WorkflowWorkerPool): number {
  return pollIntervalMs(pool.spec.autoscaling);
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
  private readonly states = new Map<string, PoolState>();
  /** Reads in flight, forgotten pools' included (a forgotten pool is no longer in `states`). */
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
        this.log.warn({ pool: key, err: logText(error), retryInMs }, 'reconcile failed; retrying'),
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
    for (const state of this.states.values()) state.stopped = true;
    await Promise.all([this.pools.stop(), this.deployments.stop(), this.running, this.pollsDone()]);
    // A stopped controller (e.g. one that lost the lease) vouches for no pool's figures.
    for (const key of this.states.keys()) {
      const { namespace, name } = splitKey(key);
      this.urls.forget(namespace, name);
      this.metrics?.forgetPool(namespace, name);
    }
    this.states.clear();
    this.connections.closeAll();
    this.log.info('pool controller stopped');
  }

  // ---------------------------------------------------------------- reconcile

  /**
   * Reconciles one pool: takes its latest backlog reading and decides,
   * starts the next read when one is due, applies its Deployment, then its
   * status. Throws to be retried with backoff; asks to run again when the
   * next read is due.
   */
  async reconcile(key: string): Promise<HandlerResult | undefined> {
    const started = performance.now();
    let ok = false;
    try {
      await this.reconcileOnce(key);
      ok = true;
      return { requeueAfterMs: this.untilNextPoll(key) };
    } catch (error) {
      // A failing reconcile is retried on the backoff, which may be far longer
      // than the poll interval; the backlog is still read on time.
      const next = this.untilNextPoll(key);
      if (next !== undefined) this.queue.addAfter(key, next);
      throw error;
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
    const state = this.ensureState(key, pool);
    const observed = state.readings.take();
    if (observed !== undefined) this.decide(key, pool, state, observed);
    this.pollIfDue(key, state);
    let deployment = this.deployments.get(key);
    let target: number | undefined;
    let apply: ApplyOutcome = { kind: 'paused' };
    let retry: unknown;

    const rule = replicaRule(scalerSpec(pool));
    if (rule.kind !== 'paused') {
      if (rule.kind === 'manual') state.desired = undefined;
      target = targetReplicas(pool, state.desired, deployment);
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
          await this.housekeeping.markDeletionCosts(this.target(key, pool, state));
        }
        const result = await this.applyDeployment(pool, state, deployment, target);
        apply = result.apply;
        deployment = result.deployment;
        retry = result.retry;
      }
    }

    if (apply.kind === 'failed') {
      state.notices.warn(pool, apply.reason, apply.message);
    } else {
      for (const reason of APPLY_WARNINGS) state.notices.cleared(reason);
    }

    const patch = computeStatus({
      pool,
      deployment,
      target,
      apply,
      stream: state.stream,
      decision: decisionFor(rule, pool, state.decision),
      lastScale: state.lastScale,
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
    state: PoolState,
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
          message: `applying Deployment ${pool.metadata.name}: ${logText(error)}`,
        },
        deployment: previous,
        retry: error,
      };
    }
    this.deployments.remember(applied);
    this.recordScale(pool, state, previous, target);
    return { apply: { kind: 'applied' }, deployment: applied };
  }

  /** Bookkeeping and an Event when an apply created the Deployment or changed its size. */
  private recordScale(
    pool: WorkflowWorkerPool,
    state: PoolState,
    previous: Deployment | undefined,
    target: number,
  ): void {
    const { namespace = 'default', name = '' } = pool.metadata;
    // The scaler's reason belongs to this write only if it asked for this
    // size: the bounds may have changed the answer since it was given.
    const asked = state.unwritten?.to === target ? state.unwritten : undefined;
    if (asked) state.unwritten = undefined;
    if (previous === undefined) {
      state.notices.normal(
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
      (replicaRule(scalerSpec(pool)).kind === 'manual'
        ? manualReplicas(pool.spec.replicas)
        : {
            reason: 'ReplicaBounds',
            message: `keeping replicas within [${pool.spec.autoscaling.minReplicas}, ${pool.spec.autoscaling.maxReplicas}]`,
          });
    state.lastScale = {
      time: new Date(this.now()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      reason: why.reason,
    };
    this.metrics?.recordScale(namespace, name, from, target);
    state.log.info(
      { from, to: target, reason: why.reason, decision: why.message },
      'scaled worker Deployment',
    );
    state.notices.normal(pool, why.reason, `scaled ${from} → ${target}: ${why.message}`);
  }

  // ------------------------------------------------------------- per-pool state

  private ensureState(key: string, pool: WorkflowWorkerPool): PoolState {
    let state = this.states.get(key);
    if (state !== undefined && state.uid !== pool.metadata.uid) {
      // The pool was deleted and created again under the same name.
      this.forget(key);
      state = undefined;
    }
    if (state === undefined) {
      const status = pool.status;
      const log = this.log.child({ namespace: pool.metadata.namespace, pool: pool.metadata.name });
      state = {
        uid: pool.metadata.uid,
        log,
        autoscaler: new Autoscaler(),
        desired: undefined,
        decision: undefined,
        unwritten: undefined,
        stream: { kind: 'not-polled' },
        lastScale:
          status?.lastScaleTime && status.lastScaleReason
            ? { time: status.lastScaleTime, reason: status.lastScaleReason }
            : undefined,
        intervalMs: intervalOf(pool),
        nextPollAt: 0,
        readings: new ReadingSlot(),
        stopped: false,
        notices: new PoolNotices(this.kube, log),
      };
      this.states.set(key, state);
      return state;
    }
    const interval = intervalOf(pool);
    if (interval !== state.intervalMs) {
      state.intervalMs = interval;
      state.nextPollAt = 0;
    }
    return state;
  }

  /** Stops polling a pool and drops what was kept about it. */
  private forget(key: string): void {
    const state = this.states.get(key);
    if (state === undefined) return;
    state.stopped = true;
    this.states.delete(key);
    this.connections.release(key);
    const { namespace, name } = splitKey(key);
    this.urls.forget(namespace, name);
    this.metrics?.forgetPool(namespace, name);
    state.log.info('pool gone; stopped polling it');
  }

  private target(key: string, pool: WorkflowWorkerPool, state: PoolState): PoolTarget {
    return { ...splitKey(key), pool, log: state.log, live: () => !state.stopped };
  }

  /** The pool's Redis client for `url`; undefined once the pool has been forgotten. */
  private clientFor(target: PoolTarget, url: string): BacklogClient | undefined {
    // Hazard: callers await a Secret read or a pod list first, and forget()
    // may run meanwhile; a client registered for the pool after that would
    // never be released (nor its connection closed).
    if (!target.live()) return undefined;
    return this.connections.use(poolKey(target.namespace, target.name), url);
  }

  // ---------------------------------------------------------------- scaling

  /** Resolves once the backlog reads in flight now have ended, forgotten pools' included. */
  async pollsDone(): Promise<void> {
    await Promise.all([...this.polls]);
  }

  /** Ms until the next poll; none while a read is in flight (its end queues the pool). */
  private untilNextPoll(key: string): number | undefined {
    const state = this.states.get(key);
    if (state === undefined || state.stopped || state.readings.inFlight) return undefined;
    return Math.max(0, state.nextPollAt - Date.now());
  }

  /** Starts the pool's next backlog read when it is due and none is in flight. */
  private pollIfDue(key: string, state: PoolState): void {
    const slot = state.readings;
    if (slot.inFlight || state.stopped || this.stopping) return;
    const started = Date.now();
    if (started < state.nextPollAt) return;
    state.nextPollAt = started + state.intervalMs;
    const reading = this.observe(key, state)
      .then((observed) => {
        if (observed !== undefined) slot.put(observed);
      })
      .catch((error) => state.log.error({ err: logText(error) }, 'backlog poll failed'))
      .finally(() => {
        this.polls.delete(reading);
        slot.inFlight = undefined;
        if (!state.stopped) this.queue.add(key);
      });
    slot.inFlight = reading;
    this.polls.add(reading);
  }

  /**
   * One read: the backlog, then consumers of deleted pods tidied away.
   * Writes nothing of the pool's state; undefined when the pool was
   * forgotten meanwhile.
   */
  private async observe(key: string, state: PoolState): Promise<Observed | undefined> {
    let pool = this.pools.get(key);
    if (pool === undefined || pool.metadata.deletionTimestamp || state.stopped) return undefined;
    const observed = await this.readBacklog(this.target(key, pool, state));
    if (observed === undefined || state.stopped) return undefined;
    const { reading } = observed;
    pool = this.pools.get(key) ?? pool;
    const active = !pool.spec.paused && this.deployments.get(key) !== undefined;
    if (active && reading.readOk && reading.consumers && reading.consumers.length > 0) {
      await this.housekeeping.forgetDeletedConsumers(
        this.target(key, pool, state),
        reading.consumers,
      );
      // Forgotten meanwhile: its series are gone and must stay gone.
      if (state.stopped) return undefined;
    }
    return observed;
  }

  /** Feeds one reading to the pool's autoscaler and keeps its answer for the apply that follows. */
  private decide(
    key: string,
    pool: WorkflowWorkerPool,
    state: PoolState,
    observed: Observed,
  ): void {
    const { reading, view } = observed;
    const { namespace, name } = splitKey(key);
    const spec = scalerSpec(pool);
    const deployment = this.deployments.get(key);
    const current = deployment?.spec?.replicas ?? targetReplicas(pool, state.desired, undefined);
    const { decision, rates } = state.autoscaler.step(
      {
        reading,
        currentReplicas: current,
        workers: {
          replicas: deployment?.spec?.replicas ?? 0,
          readyReplicas: deployment?.status?.readyReplicas ?? 0,
          concurrency: pool.spec.concurrency,
        },
      },
      spec,
      this.now(),
    );
    state.decision = { reason: decision.reason, message: decision.message };
    state.stream = view;
    this.metrics?.recordPoll(reading.readOk);
    this.metrics?.recordPoolReading(namespace, name, {
      backlog: reading.readOk ? reading.backlog : undefined,
      streamReachable: reading.readOk,
      ...rates,
    });
    state.notices.stream(pool, view);
    if (replicaRule(spec).kind === 'autoscaled') {
      const desired = decision.desiredReplicas;
      if (desired !== current) {
        state.unwritten = { to: desired, reason: decision.reason, message: decision.message };
      }
      state.desired = desired;
    } else {
      state.desired = undefined;
    }
    this.metrics?.recordPollEnd(namespace, name, this.now());
  }

  /**
   * The pool's backlog, and how the StreamReachable condition should
   * describe it; undefined when the pool was forgotten meanwhile.
   */
  private async readBacklog(target: PoolTarget): Promise<Observed | undefined> {
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
