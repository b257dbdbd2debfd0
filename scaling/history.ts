import type { Recommendation, ScalerHistory } from './types.js';

export const EMPTY_HISTORY: ScalerHistory = Object.freeze({
  recommendations: Object.freeze([]) as readonly Recommendation[],
  zeroSince: undefined,
  lastEntriesAdded: undefined,
  observedSince: undefined,
  lastObservedAt: undefined,
});

/** One poll as history sees it. */
export interface Observation {
  at: number;
  /** True only for a backlog known to be zero (never for an unknown lag or a failed read). */
  knownZero: boolean;
  /**
   * The stream's entries-added counter, when read. A change since the last
   * observation means events arrived, which breaks the quiet run even when
   * the workers kept the backlog at zero.
   */
  entriesAdded?: number | undefined;
  /** Events per second observed arriving; used for quietness only when the counter is missing. */
  arrivalRate?: number | undefined;
  /** The recommendation of this poll, or undefined when there was none (Redis unreadable). */
  recommendation: number | undefined;
}

export interface HistoryLimits {
  /** Recommendations older than this are forgotten. */
  windowMs: number;
  /** A gap longer than this between observations restarts every sustained run. */
  staleAfterMs: number;
}

/** Returns a new history with the observation added; the given one is left untouched. */
export function recordObservation(
  history: ScalerHistory,
  observation: Observation,
  limits: HistoryLimits,
): ScalerHistory {
  const { at } = observation;
  // After a gap we cannot tell what happened in between, so runs start over.
  const stale =
    history.lastObservedAt === undefined || at - history.lastObservedAt > limits.staleAfterMs;
  const kept = stale ? [] : history.recommendations.filter((r) => r.at > at - limits.windowMs);
  const recommendations =
    observation.recommendation === undefined
      ? kept
      : [...kept, { at, replicas: observation.recommendation }];
  return Object.freeze({
    recommendations: Object.freeze(recommendations),
    zeroSince: quiet(history, observation) ? continueRun(stale, history.zeroSince, at) : undefined,
    lastEntriesAdded: observation.entriesAdded ?? history.lastEntriesAdded,
    // A poll without a recommendation (Redis unreadable) leaves a hole in the
    // window, so the window counts as observed again only a full window later.
    observedSince:
      observation.recommendation === undefined
        ? undefined
        : continueRun(stale, history.observedSince, at),
    lastObservedAt: at,
  });
}

/**
 * A poll is quiet when the backlog is known to be zero and nothing arrived
 * since the previous poll. Hazard: a pool that keeps up reads a backlog of
 * zero at almost every poll while events still arrive; counting those polls
 * towards the zero cooldown sent such pools to zero and back again.
 */
function quiet(history: ScalerHistory, observation: Observation): boolean {
  if (!observation.knownZero) return false;
  const { entriesAdded, arrivalRate } = observation;
  if (entriesAdded !== undefined) {
    // The first reading (or one after a counter reset) has nothing to compare
    // with, so it cannot show that nothing arrived.
    const previous = history.lastEntriesAdded;
    return previous !== undefined && entriesAdded === previous;
  }
  // Without the counter (Redis < 7), the arrival rate is the next best sign.
  return !(arrivalRate !== undefined && arrivalRate > 0);
}

function continueRun(stale: boolean, since: number | undefined, at: number): number {
  return !stale && since !== undefined ? since : at;
}

/** The highest recommendation inside the window ending at `now`, or undefined if none. */
export function windowMax(
  history: ScalerHistory,
  now: number,
  windowMs: number,
): number | undefined {
  let highest: number | undefined;
  for (const r of history.recommendations) {
    if (r.at > now - windowMs && r.at <= now && (highest === undefined || r.replicas > highest)) {
      highest = r.replicas;
    }
  }
  return highest;
}

/** True when the quiet run (backlog zero, no arrivals) has lasted the whole cooldown. */
export function zeroSustained(history: ScalerHistory, now: number, cooldownMs: number): boolean {
  return history.zeroSince !== undefined && now - history.zeroSince >= cooldownMs;
}

/** True when history covers the whole stabilization window (a fresh operator has not seen it). */
export function windowObserved(history: ScalerHistory, now: number, windowMs: number): boolean {
  return history.observedSince !== undefined && now - history.observedSince >= windowMs;
}
