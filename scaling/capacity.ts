/**
 * What one replica can process per second, for the rate term.
 *
 * The group's entries-read counter (XINFO GROUPS, Redis >= 7) rises as the
 * workers take new entries. Its rate divided by the replicas is what one
 * replica *does*. That is what one replica *can do* only while the workers
 * never ran out of entries: the lag stayed above zero and every replica was
 * ready. Hazard: measured at any other time it equals arrival ÷ replicas,
 * and the rate term built on it would hold the pool at its current size for
 * ever, so only saturated stretches are measured.
 *
 * A figure is kept for `maxAgeMs` after its last saturated stretch and then
 * dropped: a pool whose workers became faster would otherwise stay as large
 * as the old figure asks, never saturating again to correct it.
 */
import { addSample, type CounterSample, ratePerSecond } from './rate.js';

/** One poll, as far as capacity is concerned. */
export interface CapacityObservation {
  at: number;
  /** XINFO GROUPS entries-read; undefined when Redis does not report it. */
  entriesRead: number | undefined;
  /** Entries not yet delivered; undefined when unknown. */
  lag: number | undefined;
  /** Replicas asked for (the Deployment's spec.replicas). */
  replicas: number;
  /** Replicas running and ready; undefined when unknown. */
  readyReplicas: number | undefined;
}

export interface CapacityLimits {
  /** A saturated stretch must span this long before it is measured. */
  minSpanMs: number;
  /** A long stretch is measured over its last `windowMs`, so a change in speed shows. */
  windowMs: number;
  /** A figure older than this is dropped. */
  maxAgeMs: number;
}

export interface CapacityState {
  /** The current saturated stretch, all at one replica count; undefined when not saturated. */
  readonly stretch:
    | { readonly replicas: number; readonly samples: readonly CounterSample[] }
    | undefined;
  /** The latest measurement: entries per second per replica, and when it was taken. */
  readonly measured: { readonly perReplica: number; readonly at: number } | undefined;
}

export const NO_CAPACITY: CapacityState = { stretch: undefined, measured: undefined };

function saturated(observation: CapacityObservation): boolean {
  const { entriesRead, lag, replicas, readyReplicas } = observation;
  return (
    entriesRead !== undefined &&
    lag !== undefined &&
    lag > 0 &&
    replicas > 0 &&
    readyReplicas === replicas
  );
}

/** Feeds one poll and returns the new state. */
export function observeCapacity(
  state: CapacityState,
  observation: CapacityObservation,
  limits: CapacityLimits,
): CapacityState {
  const measured = fresh(state.measured, observation.at, limits.maxAgeMs);
  if (!saturated(observation)) return { stretch: undefined, measured };
  const sample = { at: observation.at, value: observation.entriesRead! };
  const previous = state.stretch?.replicas === observation.replicas ? state.stretch : undefined;
  const last = previous?.samples[previous.samples.length - 1];
  // No progress since the last poll with work waiting is a stall (database
  // down, a lock held), not a capacity: counting it would shrink the figure
  // and make the rate term ask for more replicas of a pool that cannot work.
  // The stretch starts again after it. A counter that went down (stream
  // recreated) starts a new stretch inside addSample.
  const stalled = last !== undefined && sample.value === last.value;
  const samples =
    previous === undefined || stalled
      ? [sample]
      : addSample(previous.samples, sample, limits.windowMs);
  const stretch = { replicas: observation.replicas, samples };
  const rate = ratePerSecond(samples);
  if (observation.at - samples[0]!.at < limits.minSpanMs || rate === undefined || rate <= 0) {
    return { stretch, measured };
  }
  return { stretch, measured: { perReplica: rate / observation.replicas, at: observation.at } };
}

function fresh(
  measured: CapacityState['measured'],
  now: number,
  maxAgeMs: number,
): CapacityState['measured'] {
  return measured !== undefined && now - measured.at <= maxAgeMs ? measured : undefined;
}

/** Entries per second one replica processes, if a recent enough measurement exists. */
export function capacityPerReplica(
  state: CapacityState,
  now: number,
  maxAgeMs: number,
): number | undefined {
  return fresh(state.measured, now, maxAgeMs)?.perReplica;
}
