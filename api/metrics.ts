import { Counter, Histogram, Registry } from 'prom-client';

/** The API's metrics, on a registry of its own (never prom-client's global one). */
export class ApiMetrics {
  readonly requests: Counter<'method' | 'route' | 'status'>;
  readonly duration: Histogram<'method' | 'route'>;
  readonly enqueued: Counter<'result'>;
  readonly started: Counter;

  constructor(readonly registry: Registry = new Registry()) {
    this.requests = new Counter({
      name: 'flowpool_api_requests_total',
      help: 'HTTP requests answered, by route template and status',
      labelNames: ['method', 'route', 'status'],
      registers: [registry],
    });
    this.duration = new Histogram({
      name: 'flowpool_api_request_duration_seconds',
      help: 'Time to answer an HTTP request, by route template',
      labelNames: ['method', 'route'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    });
    this.enqueued = new Counter({
      name: 'flowpool_events_enqueued_total',
      help: 'Events accepted through the API (result=duplicate: an idempotent repeat)',
      labelNames: ['result'],
      registers: [registry],
    });
    this.started = new Counter({
      name: 'flowpool_executions_started_total',
      help: 'Executions started through the API',
      registers: [registry],
    });
  }
}
