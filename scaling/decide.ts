import {
  type HistoryLimits,
  recordObservation,
  windowMax,
  windowObserved,
  zeroSustained,
} from './history.js';
import { bounds, describeInputs } from './messages.js';
import { manualReplicas, replicaRule } from './replica-rule.js';
import { clamp, type NormalizedSpec, normalizeSpec, STALE_AFTER_POLLS } from './spec.js';
import { type BacklogView, type Recommended, recommend, viewBacklog } from './terms.js';
import type { Decision, ScaleReason, ScalerHistory, ScalerMetrics, ScalerSpec } from './types.js';

interface Outcome {
  desired: number;
  reason: ScaleReason;
  message: string;
}

/** Everything one poll's decision looks at, after recording the poll in history. */
interface Poll {
  spec: NormalizedSpec;
  metrics: ScalerMetrics;
  current: number;
  view: BacklogView;
  rec: Recommended;
  history: ScalerHistory;
  now: number;
  inputs: string;
}

function replicaCount(value: number): number {
  return Number.isFinite(value) && value > 0 ? Math.floor(value) : 0;
}

function limitsOf(spec: NormalizedSpec): HistoryLimits {
  return {
    windowMs: spec.stabilizationMs,
    staleAfterMs: spec.pollMs > 0 ? STALE_AFTER_POLLS * spec.pollMs : Number.POSITIVE_INFINITY,
  };
}

/**
 * The scaling policy: how many replicas a pool should run now. Pure: the
 * caller keeps the returned history and passes it back on the next poll.
 * `now` is a ms timestamp and must not go backwards between calls.
 */
export function decide(
  metrics: ScalerMetrics,
  history: ScalerHistory,
  spec: ScalerSpec,
  now: number,
): Decision {
  const s = normalizeSpec(spec);
  const current = replicaCount(metrics.currentReplicas);
  const rule = replicaRule(s);
  if (rule.kind === 'paused') {
    return leave(history, current, 'Paused', `pool paused; keeping ${current} replicas`);
  }
  if (rule.kind === 'manual') {
    const replicas = rule.replicas ?? current;
    const { reason, message } = manualReplicas(replicas);
    return leave(history, replicas, reason, message);
  }
  if (!metrics.readOk) return holdUnreadable(history, current, s, now);
  const view = viewBacklog(metrics);
  const rec = recommend(view, metrics, current, s);
  const next = recordObservation(
    history,
    {
      at: now,
      knownZero: view.kind === 'known' && view.backlog === 0,
      entriesAdded: metrics.entriesAdded,
      arrivalRate: metrics.arrivalRate,
      recommendation: rec.replicas,
    },
    limitsOf(s),
  );
  const poll = {
    spec: s,
    metrics,
    current,
    view,
    rec,
    history: next,
    now,
    inputs: describeInputs(view, metrics, rec, s),
  };
  const outcome = current === 0 ? fromZero(poll) : fromRunning(poll);
  return {
    desiredReplicas: outcome.desired,
    reason: outcome.reason,
    message: outcome.message,
    history: next,
    recommendation: rec.replicas,
    backlog: view.kind === 'known' ? view.backlog : undefined,
  };
}

/** Paused or manual: no metrics involved, history untouched. */
function leave(
  history: ScalerHistory,
  desired: number,
  reason: ScaleReason,
  message: string,
): Decision {
  return {
    desiredReplicas: desired,
    reason,
    message,
    history,
    recommendation: undefined,
    backlog: undefined,
  };
}

/**
 * Without a reading the size stays; only the bounds still apply, since they
 * need no metrics. The failed poll breaks the zero run and the window.
 */
function holdUnreadable(
  history: ScalerHistory,
  current: number,
  spec: NormalizedSpec,
  now: number,
): Decision {
  const desired = clamp(current, spec.minReplicas, spec.maxReplicas);
  const clamped = desired === current ? '' : ` (clamped to ${bounds(spec)})`;
  return {
    desiredReplicas: desired,
    reason: 'HoldRedisUnavailable',
    message: `Redis unreadable; holding ${desired} replicas${clamped}`,
    history: recordObservation(
      history,
      { at: now, knownZero: false, recommendation: undefined },
      limitsOf(spec),
    ),
    recommendation: undefined,
    backlog: undefined,
  };
}

function fromZero(poll: Poll): Outcome {
  const { spec, view, rec, inputs } = poll;
  if (spec.maxReplicas === 0) {
    return { desired: 0, reason: 'AtMax', message: 'staying at 0: maxReplicas is 0' };
  }
  const woken = Math.max(1, rec.replicas);
  if (spec.minReplicas > 0) {
    return {
      desired: woken,
      reason: 'WakeFromZero',
      message: `minReplicas ${spec.minReplicas}; starting ${woken}: ${inputs}`,
    };
  }
  if (view.kind === 'unknown') {
    // Work may be waiting that we cannot see; one idle worker is the cheaper mistake.
    return {
      desired: woken,
      reason: 'WakeFromZero',
      message: `waking to ${woken} because the lag is unknown: ${inputs}`,
    };
  }
  if (view.backlog >= spec.activationBacklog) {
    return {
      desired: woken,
      reason: 'WakeFromZero',
      message: `backlog ${view.backlog} reached activation ${spec.activationBacklog}; waking to ${woken}: ${inputs}`,
    };
  }
  return {
    desired: 0,
    reason: 'BelowActivation',
    message: `staying at 0: backlog ${view.backlog} below activation ${spec.activationBacklog}`,
  };
}

/** Scale up at once; scale down no lower than the highest recommendation of the window. */
function stabilize(poll: Poll): number {
  const { rec, current, history, now, spec } = poll;
  if (rec.replicas >= current) return rec.replicas;
  const highest = Math.max(
    rec.replicas,
    windowMax(history, now, spec.stabilizationMs) ?? 0,
    // A window not yet seen in full (fresh start, Redis outage) may have held `current`.
    windowObserved(history, now, spec.stabilizationMs) ? 0 : current,
  );
  return Math.min(current, highest);
}

/**
 * The running pool's target: stabilized, bounded, and held at 1 until the
 * zero cooldown has passed with no arrivals (history.zeroSince).
 */
function runningTarget(poll: Poll) {
  const { spec } = poll;
  const stabilized = stabilize(poll);
  // Bounds apply after stabilization: a lowered max takes effect at once.
  const bounded = clamp(stabilized, spec.minReplicas, spec.maxReplicas);
  // maxReplicas 0 switches the pool off, which needs no cooldown.
  const zeroHeld =
    bounded === 0 &&
    spec.maxReplicas > 0 &&
    !zeroSustained(poll.history, poll.now, spec.cooldownMs);
  return { desired: zeroHeld ? 1 : bounded, stabilizing: stabilized > poll.rec.replicas, zeroHeld };
}

function fromRunning(poll: Poll): Outcome {
  const { spec, current, rec, inputs } = poll;
  const { desired, stabilizing, zeroHeld } = runningTarget(poll);
  const held = zeroHeld
    ? `; keeping 1 until no event has arrived and the backlog has been 0 for ${spec.cooldownMs / 1000}s`
    : '';
  if (desired === 0) {
    return {
      desired,
      reason: 'ScaleToZero',
      message:
        spec.maxReplicas === 0
          ? `scaling ${current} → 0: maxReplicas is 0`
          : `scaling ${current} → 0 after ${spec.cooldownMs / 1000}s with no arrivals and a backlog of 0`,
    };
  }
  if (desired > current) {
    const capped = rec.unclamped > spec.maxReplicas ? ` (capped at max ${spec.maxReplicas})` : '';
    return {
      desired,
      reason: 'ScaleUp',
      message: `scaling ${current} → ${desired}${capped}: ${inputs}`,
    };
  }
  if (desired < current) {
    const limited = stabilizing
      ? ` (highest recommendation of the last ${spec.stabilizationMs / 1000}s)`
      : '';
    return {
      desired,
      reason: 'ScaleDown',
      message: `scaling ${current} → ${desired}${limited}${held}: ${inputs}`,
    };
  }
  return steady(poll, stabilizing, zeroHeld, held);
}

function steady(poll: Poll, stabilizing: boolean, zeroHeld: boolean, held: string): Outcome {
  const { spec, current, rec, view, inputs } = poll;
  const keep = (reason: ScaleReason, why: string): Outcome => ({
    desired: current,
    reason,
    message: `keeping ${current}${why}: ${inputs}`,
  });
  if (stabilizing)
    return keep(
      'Stabilizing',
      ` (recommended ${rec.replicas}; waiting out the ${spec.stabilizationMs / 1000}s window)`,
    );
  if (zeroHeld) return keep('ZeroCooldown', held);
  if (rec.unclamped > spec.maxReplicas) return keep('AtMax', ` (max ${spec.maxReplicas})`);
  if (rec.unclamped < spec.minReplicas) return keep('AtMin', ` (min ${spec.minReplicas})`);
  if (view.kind === 'unknown') return keep('HoldUnknownLag', ' (lag unknown; not scaling down)');
  if (rec.withinTolerance)
    return keep('WithinTolerance', ` (within ±${Math.round(spec.tolerance * 1000) / 10}%)`);
  return keep('Steady', '');
}
