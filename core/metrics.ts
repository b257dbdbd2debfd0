import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/**
 * A program's metrics on a registry of its own (never prom-client's global
 * one), so several programs' objects can live in one test process. The
 * worker's and the operator's metrics extend it and declare their series
 * with the helpers below.
 */
export abstract class MetricSet {
  readonly registry = new Registry();

  /** Process metrics (CPU, memory, event loop) on this registry. */
  protected collectDefaults(): void {
    collectDefaultMetrics({ register: this.registry });
  }

  protected counter<L extends string = string>(
    name: string,
    help: string,
    labelNames: readonly L[] = [],
  ): Counter<L> {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  /** A gauge; with `read`, its value is read at each scrape. */
  protected gauge<L extends string = string>(
    name: string,
    help: string,
    labelNames: readonly L[] = [],
    read?: () => number,
  ): Gauge<L> {
    const collect = read && {
      collect(this: Gauge<L>) {
        this.set(read());
      },
    };
    return new Gauge({ name, help, labelNames, registers: [this.registry], ...collect });
  }

  protected histogram<L extends string = string>(
    name: string,
    help: string,
    buckets: number[],
    labelNames: readonly L[] = [],
  ): Histogram<L> {
    return new Histogram({ name, help, labelNames, buckets, registers: [this.registry] });
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
