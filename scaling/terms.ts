import { clamp, type NormalizedSpec } from './spec.js';
import type { ScalerMetrics } from './types.js';

/** A count usable in arithmetic, or undefined for missing, negative or non-finite input. */
export function count(value: number | undefined): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
}

/** The backlog as the scaler sees it: known exactly, or only bounded from below. */
export type BacklogView =
  | { kind: 'known'; backlog: number }
  | { kind: 'unknown'; lowerBound: number };

/** backlog = lag + pending; an unknown lag is never read as zero. */
export function viewBacklog(metrics: ScalerMetrics): BacklogView {
  const lag = count(metrics.lag);
  const pending = count(metrics.pending);
  const lagKnown = metrics.lagSource !== 'unknown';
  if (lagKnown && lag !== undefined && pending !== undefined) {
    return { kind: 'known', backlog: lag + pending };
  }
  const given = count(metrics.backlog);
  if (lagKnown && given !== undefined && lag === undefined && pending === undefined) {
    return { kind: 'known', backlog: given };
  }
  // What is reported is certainly work; what is missing is not assumed to be zero.
  return { kind: 'unknown', lowerBound: (pending ?? 0) + (lagKnown ? (lag ?? 0) : 0) };
}

/** 440 / 400 - 1 is 0.10000000000000009 in floating point; a ratio on the edge is inside. */
const RATIO_EPSILON = 1e-9;

/**
 * Replicas needed for `need` units of work at `perReplica` each; the current
 * count when the ratio is within tolerance, so small wobbles change nothing.
 */
function replicasFor(need: number, perReplica: number, current: number, tolerance: number) {
  const exact = need / perReplica;
  if (current > 0 && Math.abs(exact / current - 1) <= tolerance + RATIO_EPSILON) {
    return { replicas: current, withinTolerance: true };
  }
  return { replicas: Math.ceil(exact), withinTolerance: false };
}

/** Replicas that keep up with the observed arrival rate; 0 when either rate is unknown. */
export function rateTerm(metrics: ScalerMetrics, current: number, tolerance: number) {
  const arrival = count(metrics.arrivalRate);
  const perReplica = count(metrics.processingRatePerReplica);
  if (arrival === undefined || perReplica === undefined || perReplica === 0) {
    return { replicas: 0, withinTolerance: false, known: false };
  }
  return { ...replicasFor(arrival, perReplica, current, tolerance), known: true };
}

export interface Recommended {
  /** The recommendation clamped to [min, max]. */
  replicas: number;
  /** Before clamping, to tell AtMax / AtMin apart. */
  unclamped: number;
  backlogReplicas: number;
  rateReplicas: number;
  rateKnown: boolean;
  /** True when the deciding term was pinned to the current count by the tolerance. */
  withinTolerance: boolean;
}

/** desired = clamp(max(backlog term, rate term), min, max), before stabilization. */
export function recommend(
  view: BacklogView,
  metrics: ScalerMetrics,
  current: number,
  spec: NormalizedSpec,
): Recommended {
  const target = spec.targetBacklogPerReplica;
  const backlog =
    view.kind === 'known'
      ? replicasFor(view.backlog, target, current, spec.tolerance)
      : // Only the lower bound is known: it may raise the count, never lower it.
        {
          replicas: Math.max(current, Math.ceil(view.lowerBound / target)),
          withinTolerance: false,
        };
  const rate = rateTerm(metrics, current, spec.tolerance);
  const unclamped = Math.max(backlog.replicas, rate.replicas);
  const decidedBy = backlog.replicas >= rate.replicas ? backlog : rate;
  return {
    replicas: clamp(unclamped, spec.minReplicas, spec.maxReplicas),
    unclamped,
    backlogReplicas: backlog.replicas,
    rateReplicas: rate.replicas,
    rateKnown: rate.known,
    withinTolerance: decidedBy.withinTolerance,
  };
}
