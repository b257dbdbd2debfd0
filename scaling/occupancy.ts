/**
 * Per-replica capacity while the pool keeps up, from occupancy.
 *
 * capacity.ts measures what a replica can do only while the pool is
 * saturated, so a pool that keeps up never gets a figure, and the rate term
 * could not hold any replicas for the traffic it serves. Little's law gives
 * one without saturation: with L entries in flight on average (the group's
 * pending count: a worker reads only what it has room for, and acks after
 * the commit) and a throughput λ (the group's entries-read rate), each entry
 * takes W = L / λ, so one replica with `concurrency` slots can do
 * concurrency / W = concurrency · λ / L entries per second (counting at
 * most MODELLED_SLOTS slots: see there).
 *
 * Pending is sampled once a poll. With short events most samples read 0,
 * and when all n of them do the mean says nothing. The rule of three still
 * bounds it: with no busy sample in n, the busy fraction of the pool's
 * replicas × concurrency slots is below 3/n (95 %), so L < 3/n · replicas ·
 * concurrency, and capacity per replica > λ · n / (3 · replicas). From
 * three samples on that is at least what each replica did, so the rate term
 * never grows an idle-looking pool. Entries of a dead consumer also count as
 * pending until claimed; they make the figure smaller and ask for more
 * replicas, the safe side.
 *
 * L and λ are the pool's totals and the formula does not involve the
 * replica count, so samples are kept while replicas start and stop.
 */
import { addSample, type CounterSample, ratePerSecond } from './rate.js';

export interface OccupancyObservation {
  at: number;
  /** XINFO GROUPS entries-read; undefined when Redis does not report it. */
  entriesRead: number | undefined;
  /** Entries delivered and not yet acknowledged; undefined when unknown. */
  pending: number | undefined;
  replicas: number;
}

export interface OccupancyState {
  /** entries-read readings over the window. */
  readonly reads: readonly CounterSample[];
  /** pending readings over the same window. */
  readonly pending: readonly CounterSample[];
}

export const NO_OCCUPANCY: OccupancyState = { reads: [], pending: [] };

/** Fewer pending samples than this tell nothing (see the rule of three above). */
export const MIN_OCCUPANCY_SAMPLES = 3;

/** Feeds one poll; a pool at zero replicas starts the window again. */
export function observeOccupancy(
  state: OccupancyState,
  observation: OccupancyObservation,
  windowMs: number,
): OccupancyState {
  const { at, entriesRead, pending, replicas } = observation;
  if (entriesRead === undefined || pending === undefined || replicas <= 0) return NO_OCCUPANCY;
  const reads = addSample(state.reads, { at, value: entriesRead }, windowMs);
  // A reset counter (stream recreated) restarts the pending window with it.
  const kept = reads.length === 1 ? [] : state.pending.filter((s) => s.at > at - windowMs);
  return { reads, pending: [...kept, { at, value: pending }] };
}

/**
 * Slots the model counts per replica, at most. Little's law over slots
 * (capacity = slots ÷ W) holds when each slot works on its own. A worker
 * applies the notices it holds in batches across executions (one lock
 * call, one read, one commit per batch), so a notice's time W grows with
 * the batch it rides in, and capacity grows far slower than the slots: at
 * 5,000 × 1, 64 slots did 1.5–2.5× what 8 did, not 8× (docs/benchmarks.md
 * §10). Measured while batches are small, slots ÷ W would read a replica
 * of 64 slots as about five times what it can do, and the rate term would
 * hold too few replicas. Counting at most 8 keeps the estimate where it
 * stood at 8 slots, where the scaling tests and benchmarks validated it.
 */
export const MODELLED_SLOTS = 8;

/** The slots the model counts for a replica of `concurrency` slots (see MODELLED_SLOTS). */
export function modelledSlots(concurrency: number): number {
  return Math.min(concurrency, MODELLED_SLOTS);
}

/** Entries per second one replica can process, or undefined while occupancy tells nothing. */
export function occupancyCapacity(
  state: OccupancyState,
  workers: { replicas: number; concurrency: number | undefined },
  minSpanMs: number,
): number | undefined {
  const { replicas, concurrency } = workers;
  if (concurrency === undefined || !(concurrency > 0) || !(replicas > 0)) return undefined;
  const first = state.reads[0];
  const last = state.reads[state.reads.length - 1];
  if (first === undefined || last === undefined || last.at - first.at < minSpanMs) return undefined;
  const samples = state.pending.length;
  const throughput = ratePerSecond(state.reads);
  if (samples < MIN_OCCUPANCY_SAMPLES || throughput === undefined || throughput <= 0) {
    return undefined;
  }
  const inFlight = state.pending.reduce((sum, s) => sum + s.value, 0) / samples;
  if (inFlight > 0) {
    const estimate = (modelledSlots(concurrency) * throughput) / inFlight;
    // More in flight than the modelled slots (a replica of more slots, busy)
    // says nothing about what it could do beyond what it does, but it does that.
    return concurrency > MODELLED_SLOTS ? Math.max(estimate, throughput / replicas) : estimate;
  }
  return (throughput * samples) / (3 * replicas);
}
