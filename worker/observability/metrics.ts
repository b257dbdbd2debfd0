import { MetricSet } from '../../core/metrics.js';
import type { DeliveryOutcome } from '../runtime/delivery-handler.js';

/** A worker process's metrics. */
export class WorkerMetrics extends MetricSet {
  private readonly processed = this.counter(
    'flowpool_events_processed_total',
    'Events applied or rejected, and deliveries retried, found busy, dead-lettered or with nothing to do',
    ['result'],
  );
  private readonly duration = this.histogram(
    'flowpool_processing_duration_seconds',
    'Time to handle one delivery (catch-up of one execution, its actions included)',
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    ['outcome'],
  );
  private readonly relayRepublished = this.counter(
    'flowpool_relay_republished_total',
    'Notices the outbox relay sent again (unpublished or presumed lost)',
  );
  private readonly deadLettered = this.counter(
    'flowpool_dead_lettered_total',
    'Notices moved to the dead-letter stream',
  );
  private readonly lockContention = this.counter(
    'flowpool_lock_contention_total',
    'Deliveries put back because another worker held the execution (lock busy or fenced)',
  );
  private readonly streamErrors = this.counter(
    'flowpool_stream_errors_total',
    'Failures reading, handling or housekeeping the stream (usually Redis or PostgreSQL outages)',
    ['where'],
  );

  constructor(
    inFlight: () => number,
    defaultMetrics = true,
    /** Running deliveries past their deadline (see StreamConsumer.stuckSlots). */
    stuckSlots: () => number = () => 0,
  ) {
    super();
    for (const result of ['applied', 'rejected', 'noop', 'retry', 'busy', 'dead'] as const)
      this.processed.inc({ result }, 0);
    this.gauge(
      'flowpool_in_flight',
      'Deliveries this process holds: running, queued behind their execution, or waiting to retry',
      [],
      inFlight,
    );
    this.gauge(
      'flowpool_worker_stuck_slots',
      'Slots held by a delivery past its deadline (no progress); when it equals the concurrency, the worker does no work',
      [],
      stuckSlots,
    );
    if (defaultMetrics) this.collectDefaults();
  }

  recordOutcome(outcome: DeliveryOutcome, durationMs: number): void {
    this.duration.observe({ outcome: outcome.kind }, durationMs / 1000);
    switch (outcome.kind) {
      case 'done': {
        const { applied, rejected } = outcome.result;
        if (applied > 0) this.processed.inc({ result: 'applied' }, applied);
        if (rejected > 0) this.processed.inc({ result: 'rejected' }, rejected);
        if (applied + rejected === 0) this.processed.inc({ result: 'noop' });
        return;
      }
      case 'busy':
        this.processed.inc({ result: 'busy' });
        this.lockContention.inc();
        return;
      case 'retry':
        this.processed.inc({ result: 'retry' });
        return;
      case 'dead':
        this.processed.inc({ result: 'dead' });
        this.deadLettered.inc();
        return;
    }
  }

  recordRepublished(count: number): void {
    if (count > 0) this.relayRepublished.inc(count);
  }

  recordStreamError(where: string): void {
    this.streamErrors.inc({ where });
  }
}
