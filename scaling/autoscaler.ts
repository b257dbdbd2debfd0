/**
 * The scaling loop's memory, shared by the operator (one per pool) and the
 * local mode: it keeps the decision history and the rate estimates between
 * polls, and turns one backlog reading into one decide() answer. Reading the
 * backlog and acting on the answer stay with the caller.
 */
import { decide } from './decide.js';
import { EMPTY_HISTORY } from './history.js';
import {
  NO_RATE_HISTORY,
  observeRates,
  type RateHistory,
  type Rates,
  type StreamCounters,
  type WorkerCounts,
} from './rates.js';
import type { Decision, LagSource, ScalerHistory, ScalerMetrics, ScalerSpec } from './types.js';

/**
 * A backlog reading as the autoscaler needs it; stream/backlog's
 * BacklogReading is one (scaling may not import stream, so the narrow shape
 * lives here).
 */
export interface BacklogSample {
  readOk: boolean;
  lag: number | undefined;
  pending: number | undefined;
  /** lag + pending. */
  backlog: number | undefined;
  lagSource: LagSource;
  /** XINFO STREAM entries-added (Redis >= 7). */
  entriesAdded?: number | undefined;
  /** XINFO GROUPS entries-read (Redis >= 7). */
  entriesRead?: number | undefined;
}

/** The counters the rate estimates follow; none when Redis could not be read. */
export function streamCounters(reading: BacklogSample): StreamCounters {
  return reading.readOk
    ? {
        entriesAdded: reading.entriesAdded,
        entriesRead: reading.entriesRead,
        lag: reading.lag,
        pending: reading.pending,
      }
    : { entriesAdded: undefined, entriesRead: undefined, lag: undefined, pending: undefined };
}

/** What decide() is given for one reading. */
export function scalerMetrics(
  reading: BacklogSample,
  currentReplicas: number,
  rates: Rates,
): ScalerMetrics {
  return {
    currentReplicas,
    lag: reading.lag,
    pending: reading.pending,
    backlog: reading.backlog,
    lagSource: reading.lagSource,
    readOk: reading.readOk,
    entriesAdded: reading.readOk ? reading.entriesAdded : undefined,
    ...rates,
  };
}

/** The poll period a spec asks for, in ms (at least a second). */
export function pollIntervalMs(spec: Pick<ScalerSpec, 'pollIntervalSeconds'>): number {
  return Math.max(1, spec.pollIntervalSeconds) * 1000;
}

export interface AutoscalerStep {
  decision: Decision;
  /** The rates this poll estimated (for metrics). */
  rates: Rates;
}

/** One poll's inputs. */
export interface AutoscalerPoll {
  reading: BacklogSample;
  /** The size running now, as decide() sees it. */
  currentReplicas: number;
  /** The workers as the rate estimates see them (asked for, ready, slots each). */
  workers: WorkerCounts;
}

export class Autoscaler {
  private history: ScalerHistory = EMPTY_HISTORY;
  private rates: RateHistory = NO_RATE_HISTORY;

  /** One poll; `now` (ms) must not go backwards between calls. */
  step(poll: AutoscalerPoll, spec: ScalerSpec, now: number): AutoscalerStep {
    const observed = observeRates(
      this.rates,
      streamCounters(poll.reading),
      poll.workers,
      now,
      pollIntervalMs(spec),
    );
    this.rates = observed.history;
    const decision = decide(
      scalerMetrics(poll.reading, poll.currentReplicas, observed.rates),
      this.history,
      spec,
      now,
    );
    this.history = decision.history;
    return { decision, rates: observed.rates };
  }
}
