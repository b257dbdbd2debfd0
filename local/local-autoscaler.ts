import {
  decide,
  EMPTY_HISTORY,
  NO_RATE_HISTORY,
  observeRates,
  type RateHistory,
  type ScalerHistory,
  type ScalerSpec,
} from '../scaling/index.js';
import {
  type BacklogReading,
  type BacklogSource,
  streamCounters,
} from '../stream/backlog/index.js';
import type { ScaleTarget } from './local-worker-pool.js';

/** One poll: what was read, what was decided, what runs. */
export interface ScalingSample {
  at: number;
  backlog: number | undefined;
  lagSource: BacklogReading['lagSource'];
  desired: number;
  replicas: number;
  reason: string;
  message: string;
}

export interface LocalAutoscalerOptions {
  source: BacklogSource;
  stream: string;
  group: string;
  spec: ScalerSpec;
  /** Events each worker process handles at once, for the capacity estimates. */
  concurrency: number;
  target: ScaleTarget;
  now?: () => number;
  onSample?: (sample: ScalingSample) => void;
  onError?: (error: unknown) => void;
}

/**
 * The operator's scaling loop with local processes as the target: the same
 * pure decide() policy and rate estimates, fed from the same backlog reading.
 */
export class LocalAutoscaler {
  private history: ScalerHistory = EMPTY_HISTORY;
  private rates: RateHistory = NO_RATE_HISTORY;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  readonly samples: ScalingSample[] = [];

  constructor(private readonly options: LocalAutoscalerOptions) {}

  start(): void {
    const period = this.options.spec.pollIntervalSeconds * 1000;
    const tick = () => {
      this.running = this.tick().then(
        () => undefined,
        (error) => this.options.onError?.(error),
      );
      void this.running.finally(() => {
        if (this.timer !== undefined) this.timer = setTimeout(tick, period);
      });
    };
    this.timer = setTimeout(tick, 0);
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** One poll; public so tests can step it. */
  async tick(): Promise<ScalingSample> {
    const now = (this.options.now ?? Date.now)();
    const reading = await this.options.source.read(this.options.stream, this.options.group);
    const current = this.options.target.replicas;
    const observed = observeRates(
      this.rates,
      streamCounters(reading),
      {
        replicas: current,
        readyReplicas: await this.options.target.readyCount(),
        concurrency: this.options.concurrency,
      },
      now,
      this.options.spec.pollIntervalSeconds * 1000,
    );
    this.rates = observed.history;
    const decision = decide(
      { ...reading, ...observed.rates, currentReplicas: current },
      this.history,
      this.options.spec,
      now,
    );
    this.history = decision.history;
    if (decision.desiredReplicas !== current) {
      const idle = new Set(
        (reading.readOk ? (reading.consumers ?? []) : [])
          .filter((c) => c.pending === 0)
          .map((c) => c.name),
      );
      await this.options.target.scaleTo(decision.desiredReplicas, idle);
    }
    const sample: ScalingSample = {
      at: now,
      backlog: reading.backlog,
      lagSource: reading.lagSource,
      desired: decision.desiredReplicas,
      replicas: this.options.target.replicas,
      reason: decision.reason,
      message: decision.message,
    };
    this.samples.push(sample);
    this.options.onSample?.(sample);
    return sample;
  }
}
