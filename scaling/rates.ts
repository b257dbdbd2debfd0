/**
 * The rates behind the rate term, kept from poll to poll: arrivals from the
 * stream's entries-added; per-replica capacity from the group's entries-read
 * while the pool is saturated (capacity.ts), else from occupancy while it
 * keeps up (occupancy.ts), else a conservative prior while events arrive.
 */
import {
  type CapacityLimits,
  type CapacityState,
  capacityPerReplica,
  NO_CAPACITY,
  observeCapacity,
} from './capacity.js';
import {
  modelledSlots,
  NO_OCCUPANCY,
  type OccupancyState,
  observeOccupancy,
  occupancyCapacity,
} from './occupancy.js';
import { type CounterSample, estimateRate } from './rate.js';
import type { CapacitySource } from './types.js';

/**
 * What one worker slot is assumed to process per second before anything is
 * measured: 5 entries a second, i.e. 200 ms an event, several times slower
 * than short workflows run. It is used only while events arrive and neither
 * saturation nor occupancy has given a figure, so erring slow costs a few
 * idle replicas for a while, never a backlog.
 */
const PRIOR_RATE_PER_SLOT = 5;

/** The two rates behind the rate term, per second; undefined while not known. */
export interface Rates {
  arrivalRate: number | undefined;
  processingRatePerReplica: number | undefined;
  capacitySource: CapacitySource | undefined;
}

/** The counters of one backlog reading; all undefined when Redis could not be read. */
export interface StreamCounters {
  /** XINFO STREAM entries-added. */
  entriesAdded: number | undefined;
  /** XINFO GROUPS entries-read. */
  entriesRead: number | undefined;
  lag: number | undefined;
  /** XINFO GROUPS pending. */
  pending: number | undefined;
}

/** The pool's workers at one poll. */
export interface WorkerCounts {
  /** Replicas asked for. */
  replicas: number;
  /** Replicas running and ready; undefined when unknown. */
  readyReplicas: number | undefined;
  /** Entries each replica handles at once (spec.concurrency); without it only the prior's floor of one slot applies. */
  concurrency?: number | undefined;
}

/** What a pool's polls remember to estimate its rates. */
export interface RateHistory {
  readonly arrivals: readonly CounterSample[];
  readonly capacity: CapacityState;
  readonly occupancy: OccupancyState;
}

export const NO_RATE_HISTORY: RateHistory = {
  arrivals: [],
  capacity: NO_CAPACITY,
  occupancy: NO_OCCUPANCY,
};

/**
 * How far back the rates look, from the poll interval. The arrival rate
 * looks back only a few polls: it holds replicas up, so a long window would
 * keep a pool large long after a burst ended. A capacity figure lives ten
 * minutes (see capacity.ts).
 */
function rateLimits(intervalMs: number): { arrivalWindowMs: number } & CapacityLimits {
  return {
    arrivalWindowMs: Math.max(10_000, 3 * intervalMs),
    minSpanMs: Math.max(5_000, 2 * intervalMs),
    windowMs: Math.max(30_000, 6 * intervalMs),
    maxAgeMs: Math.max(10 * 60_000, 20 * intervalMs),
  };
}

/**
 * Feeds one poll into the rate history: the arrival rate from the
 * stream's entries-added, the per-replica capacity as described above.
 */
export function observeRates(
  history: RateHistory,
  counters: StreamCounters,
  workers: WorkerCounts,
  now: number,
  intervalMs: number,
): { history: RateHistory; rates: Rates } {
  const limits = rateLimits(intervalMs);
  const arrival = estimateRate(
    history.arrivals,
    now,
    counters.entriesAdded,
    limits.arrivalWindowMs,
  );
  const { replicas, readyReplicas, concurrency } = workers;
  const capacity = observeCapacity(
    history.capacity,
    { at: now, entriesRead: counters.entriesRead, lag: counters.lag, replicas, readyReplicas },
    limits,
  );
  const occupancy = observeOccupancy(
    history.occupancy,
    { at: now, entriesRead: counters.entriesRead, pending: counters.pending, replicas },
    limits.windowMs,
  );
  return {
    history: { arrivals: arrival.samples, capacity, occupancy },
    rates: {
      arrivalRate: arrival.rate,
      ...perReplica(
        capacityPerReplica(capacity, now, limits.maxAgeMs),
        occupancyCapacity(occupancy, { replicas, concurrency }, limits.minSpanMs),
        arrival.rate,
        concurrency,
      ),
    },
  };
}

/** The best capacity figure there is; the prior only while events arrive. */
function perReplica(
  saturated: number | undefined,
  occupancy: number | undefined,
  arrivalRate: number | undefined,
  concurrency: number | undefined,
): Pick<Rates, 'processingRatePerReplica' | 'capacitySource'> {
  if (saturated !== undefined)
    return { processingRatePerReplica: saturated, capacitySource: 'saturated' };
  if (occupancy !== undefined)
    return { processingRatePerReplica: occupancy, capacitySource: 'occupancy' };
  if (arrivalRate !== undefined && arrivalRate > 0) {
    const slots =
      concurrency !== undefined && concurrency >= 1 ? modelledSlots(Math.floor(concurrency)) : 1;
    return { processingRatePerReplica: slots * PRIOR_RATE_PER_SLOT, capacitySource: 'prior' };
  }
  return { processingRatePerReplica: undefined, capacitySource: undefined };
}
