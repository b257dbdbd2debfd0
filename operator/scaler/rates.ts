/**
 * The rates behind the rate term, kept from poll to poll: arrivals from the
 * stream's entries-added, per-replica capacity from the group's entries-read
 * while the pool is saturated (capacity.ts).
 */
import {
  type CapacityLimits,
  type CapacityState,
  capacityPerReplica,
  NO_CAPACITY,
  observeCapacity,
} from './capacity.js';
import { type CounterSample, estimateRate } from './rate.js';

/** The two rates behind the rate term, per second; undefined while not known. */
export interface Rates {
  arrivalRate: number | undefined;
  processingRatePerReplica: number | undefined;
}

/** The counters of one backlog reading; all undefined when Redis could not be read. */
export interface StreamCounters {
  /** XINFO STREAM entries-added. */
  entriesAdded: number | undefined;
  /** XINFO GROUPS entries-read. */
  entriesRead: number | undefined;
  lag: number | undefined;
}

/** What a pool's polls remember to estimate its rates. */
export interface RateHistory {
  readonly arrivals: readonly CounterSample[];
  readonly capacity: CapacityState;
}

export const NO_RATE_HISTORY: RateHistory = { arrivals: [], capacity: NO_CAPACITY };

/**
 * How far back the rates look, from the poll interval. The arrival rate
 * looks back only a few polls: it holds replicas up, so a long window would
 * keep a pool large long after a burst ended. A capacity figure lives ten
 * minutes (see capacity.ts).
 */
export function rateLimits(intervalMs: number): { arrivalWindowMs: number } & CapacityLimits {
  return {
    arrivalWindowMs: Math.max(10_000, 3 * intervalMs),
    minSpanMs: Math.max(5_000, 2 * intervalMs),
    windowMs: Math.max(30_000, 6 * intervalMs),
    maxAgeMs: Math.max(10 * 60_000, 20 * intervalMs),
  };
}

/**
 * Feeds one poll into the rate history: the arrival rate from the
 * stream's entries-added, the per-replica capacity from the group's
 * entries-read while the pool is saturated.
 */
export function observeRates(
  history: RateHistory,
  counters: StreamCounters,
  workers: { replicas: number; readyReplicas: number | undefined },
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
  const capacity = observeCapacity(
    history.capacity,
    { at: now, entriesRead: counters.entriesRead, lag: counters.lag, ...workers },
    limits,
  );
  return {
    history: { arrivals: arrival.samples, capacity },
    rates: {
      arrivalRate: arrival.rate,
      processingRatePerReplica: capacityPerReplica(capacity, now, limits.maxAgeMs),
    },
  };
}
