import { Autoscaler, pollIntervalMs } from '../scaling/autoscaler.js';
import type { ScalerSpec } from '../scaling/types.js';
import type { BacklogReading, BacklogSource } from '../stream/backlog/types.js';
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
 * Autoscaler (decide() and the rate estimates), fed from the same backlog
 * reading, on a timer instead of a work queue.
 */
export class LocalAutoscaler {
  private readonly autoscaler = new Autoscaler();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  readonly samples: ScalingSample[] = [];

  constructor(private readonly options: LocalAutoscalerOptions) {}

  start(): void {
    const period = pollIntervalMs(this.options.spec);
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
    const { decision } = this.autoscaler.step(
      {
        reading,
        currentReplicas: current,
        workers: {
          replicas: current,
          readyReplicas: await this.options.target.readyCount(),
          concurrency: this.options.concurrency,
        },
      },
      this.options.spec,
      now,
    );
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
