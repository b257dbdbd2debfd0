import type { Gauge } from 'prom-client';
import { MetricSet } from '../core/metrics.js';

type PoolLabels = 'namespace' | 'pool';

/**
 * What one backlog poll learnt about a pool. A figure that is undefined is
 * unknown (Redis could not be read, too few polls for a rate): its series
 * is removed rather than left at a value that is no longer true.
 */
export interface PoolReading {
  backlog: number | undefined;
  streamReachable: boolean;
  arrivalRate: number | undefined;
  processingRatePerReplica: number | undefined;
}

/** A pool's replicas after a reconcile; desiredReplicas is undefined while the pool is paused. */
export interface PoolReplicas {
  desiredReplicas: number | undefined;
  currentReplicas: number;
  readyReplicas: number;
}

const POOL_LABELS = ['namespace', 'pool'] as const;

/** The operator's metrics. */
export class OperatorMetrics extends MetricSet {
  private readonly backlog = this.poolGauge(
    'flowpool_operator_pool_backlog',
    'Stream backlog (lag + pending) of the pool at the last poll',
  );
  private readonly desired = this.poolGauge(
    'flowpool_operator_pool_desired_replicas',
    'Workers the operator asks for',
  );
  private readonly current = this.poolGauge(
    'flowpool_operator_pool_current_replicas',
    "Worker pods the pool's Deployment has",
  );
  private readonly ready = this.poolGauge(
    'flowpool_operator_pool_ready_replicas',
    'Worker pods that are ready',
  );
  private readonly arrivalRate = this.poolGauge(
    'flowpool_operator_pool_arrival_rate',
    'Entries added to the stream per second, over the last few polls',
  );
  private readonly capacity = this.poolGauge(
    'flowpool_operator_pool_processing_rate_per_replica',
    'Entries one worker takes per second, measured while the pool was saturated',
  );
  private readonly reachable = this.poolGauge(
    'flowpool_operator_pool_stream_reachable',
    '1 when the last poll read the stream backlog, 0 when it could not',
  );
  private readonly lastPoll = this.poolGauge(
    'flowpool_operator_pool_last_poll_timestamp_seconds',
    'When the last backlog poll of the pool ended (Unix time)',
  );
  private readonly reconciles = this.counter(
    'flowpool_operator_reconcile_total',
    'Reconciles of pools, by result',
    ['result'],
  );
  private readonly reconcileErrors = this.counter(
    'flowpool_operator_reconcile_errors_total',
    'Reconciles that failed and will be retried with backoff',
  );
  private readonly reconcileDuration = this.histogram(
    'flowpool_operator_reconcile_duration_seconds',
    'Time one reconcile of a pool took',
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  );
  private readonly polls = this.counter(
    'flowpool_operator_backlog_polls_total',
    'Backlog polls, by result (read or unreadable)',
    ['result'],
  );
  private readonly scales = this.counter(
    'flowpool_operator_scale_total',
    'Replica changes the operator made, by direction',
    [...POOL_LABELS, 'direction'],
  );
  private readonly leader = this.gauge(
    'flowpool_operator_leader',
    'Whether this process holds the leader Lease and runs the controllers (1) or waits (0)',
  );

  constructor(defaultMetrics = true) {
    super();
    for (const result of ['success', 'error'] as const) this.reconciles.inc({ result }, 0);
    if (defaultMetrics) this.collectDefaults();
  }

  private poolGauge(name: string, help: string): Gauge<PoolLabels> {
    return this.gauge(name, help, POOL_LABELS);
  }

  recordPoolReading(namespace: string, pool: string, reading: PoolReading): void {
    const labels = { namespace, pool };
    setOrRemove(this.backlog, labels, reading.backlog);
    setOrRemove(this.arrivalRate, labels, reading.arrivalRate);
    setOrRemove(this.capacity, labels, reading.processingRatePerReplica);
    this.reachable.set(labels, reading.streamReachable ? 1 : 0);
  }

  /** A poll of the pool has ended (its consumer housekeeping included), at `atMs` since the epoch. */
  recordPollEnd(namespace: string, pool: string, atMs: number): void {
    this.lastPoll.set({ namespace, pool }, atMs / 1000);
  }

  recordPoolReplicas(namespace: string, pool: string, replicas: PoolReplicas): void {
    const labels = { namespace, pool };
    setOrRemove(this.desired, labels, replicas.desiredReplicas);
    this.current.set(labels, replicas.currentReplicas);
    this.ready.set(labels, replicas.readyReplicas);
  }

  /** Removes every series of a pool that is gone (or that this process no longer watches). */
  forgetPool(namespace: string, pool: string): void {
    const labels = { namespace, pool };
    const gauges = [
      this.backlog,
      this.desired,
      this.current,
      this.ready,
      this.reachable,
      this.arrivalRate,
      this.capacity,
      this.lastPoll,
    ];
    for (const gauge of gauges) {
      gauge.remove(labels);
    }
    for (const direction of ['up', 'down']) this.scales.remove({ ...labels, direction });
  }

  recordReconcile(seconds: number, ok: boolean): void {
    this.reconcileDuration.observe(seconds);
    this.reconciles.inc({ result: ok ? 'success' : 'error' });
    if (!ok) this.reconcileErrors.inc();
  }

  recordPoll(readable: boolean): void {
    this.polls.inc({ result: readable ? 'read' : 'unreadable' });
  }

  recordScale(namespace: string, pool: string, from: number, to: number): void {
    if (from === to) return;
    this.scales.inc({ namespace, pool, direction: to > from ? 'up' : 'down' });
  }

  setLeader(leading: boolean): void {
    this.leader.set(leading ? 1 : 0);
  }
}

function setOrRemove(
  gauge: Gauge<PoolLabels>,
  labels: Record<PoolLabels, string>,
  value: number | undefined,
): void {
  // An unknown figure must not keep reporting the last known one.
  if (value === undefined) gauge.remove(labels);
  else gauge.set(labels, value);
}
