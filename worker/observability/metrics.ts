import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { DeliveryOutcome } from '../runtime/delivery-handler.js';

/**
 * A worker process's metrics on a registry of its own (never prom-client's
 * global one), so several process objects can live in one test process.
 */
export class WorkerMetrics {
  readonly registry = new Registry();
  private readonly processed: Counter<'result'>;
  private readonly duration: Histogram<'outcome'>;
  private readonly relayRepublished: Counter;
  private readonly deadLettered: Counter;
  private readonly lockContention: Counter;
  private readonly streamErrors: Counter<'where'>;

  constructor(
    inFlight: () => number,
    defaultMetrics = true,
    /** Running deliveries past their deadline (see StreamConsumer.stuckSlots). */
    stuckSlots: () => number = () => 0,
  ) {
    const registers = [this.registry];
    this.processed = new Counter({
      name: 'flowpool_events_processed_total',
      help: 'Events applied or rejected, and deliveries retried, found busy, dead-lettered or with nothing to do',
      labelNames: ['result'],
      registers,
    });
    for (const result of ['applied', 'rejected', 'noop', 'retry', 'busy', 'dead'] as const)
      this.processed.inc({ result }, 0);
    this.duration = new Histogram({
      name: 'flowpool_processing_duration_seconds',
      help: 'Time to handle one delivery (catch-up of one execution, its actions included)',
      labelNames: ['outcome'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    new Gauge({
      name: 'flowpool_in_flight',
      help: 'Deliveries this process holds: running, queued behind their execution, or waiting to retry',
      registers,
      collect() {
        this.set(inFlight());
      },
    });
    new Gauge({
      name: 'flowpool_worker_stuck_slots',
      help: 'Slots held by a delivery past its deadline (no progress); when it equals the concurrency, the worker does no work',
      registers,
      collect() {
        this.set(stuckSlots());
      },
    });
    const counter = (name: string, help: string) => new Counter({ name, help, registers });
    this.relayRepublished = counter(
      'flowpool_relay_republished_total',
      'Notices the outbox relay sent again (unpublished or presumed lost)',
    );
    this.deadLettered = counter(
      'flowpool_dead_lettered_total',
      'Notices moved to the dead-letter stream',
    );
    this.lockContention = counter(
      'flowpool_lock_contention_total',
      'Deliveries put back because another worker held the execution (lock busy or fenced)',
    );
    this.streamErrors = new Counter({
      name: 'flowpool_stream_errors_total',
      help: 'Failures reading, handling or housekeeping the stream (usually Redis or PostgreSQL outages)',
      labelNames: ['where'],
      registers,
    });
    if (defaultMetrics) collectDefaultMetrics({ register: this.registry });
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

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
