/**
 * Arrival rate from successive readings of a monotonic stream counter, such
 * as XINFO STREAM's entries-added. XLEN is a poor counter (trimming and
 * deletion lower it), so any drop is taken as a reset: the stream was
 * recreated or Redis restarted empty, and the rate starts over.
 */

/** One reading of a counter at a ms timestamp. */
export interface CounterSample {
  readonly at: number;
  readonly value: number;
}

/** Returns the samples with `sample` added and those older than the window dropped. */
export function addSample(
  samples: readonly CounterSample[],
  sample: CounterSample,
  windowMs: number,
): readonly CounterSample[] {
  if (!Number.isFinite(sample.value) || !Number.isFinite(sample.at)) return samples;
  const last = samples[samples.length - 1];
  if (last !== undefined && sample.at < last.at) return samples; // out of order: ignore
  if (last !== undefined && sample.value < last.value) return [sample]; // counter reset
  const earlier = last !== undefined && sample.at === last.at ? samples.slice(0, -1) : samples;
  return [...withinWindow(earlier, sample.at - windowMs), sample];
}

/** Samples from `cutoff` on, plus the last one before it so the window stays spanned. */
function withinWindow(samples: readonly CounterSample[], cutoff: number): CounterSample[] {
  const firstInside = samples.findIndex((s) => s.at >= cutoff);
  if (firstInside === -1) return samples.slice(-1);
  const spansWindow = samples[firstInside]!.at === cutoff;
  return samples.slice(spansWindow ? firstInside : Math.max(0, firstInside - 1));
}

/** Counter increase per second across the samples; undefined until two samples span some time. */
export function ratePerSecond(samples: readonly CounterSample[]): number | undefined {
  const first = samples[0];
  const last = samples[samples.length - 1];
  if (first === undefined || last === undefined || last.at <= first.at) return undefined;
  return ((last.value - first.value) * 1000) / (last.at - first.at);
}

/** The estimator's state between polls. */
export interface RateEstimate {
  samples: readonly CounterSample[];
  /** Per second; undefined while not enough is known. */
  rate: number | undefined;
}

/** Feeds one counter reading (undefined when it could not be read) and returns the new estimate. */
export function estimateRate(
  samples: readonly CounterSample[],
  at: number,
  value: number | undefined,
  windowMs: number,
): RateEstimate {
  const next = value === undefined ? samples : addSample(samples, { at, value }, windowMs);
  return { samples: next, rate: ratePerSecond(next) };
}
