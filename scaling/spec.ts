import type { ScalerSpec } from './types.js';

const DEFAULT_TOLERANCE = 0.1;

/** Observations further apart than this many poll intervals break every "sustained" run. */
export const STALE_AFTER_POLLS = 3;

/** A spec with every field usable as is: whole counts, min <= max, positive target. */
export interface NormalizedSpec {
  minReplicas: number;
  maxReplicas: number;
  targetBacklogPerReplica: number;
  activationBacklog: number;
  pollMs: number;
  stabilizationMs: number;
  cooldownMs: number;
  tolerance: number;
  paused: boolean;
  enabled: boolean;
  replicas: number | undefined;
}

function wholeAtLeast(value: number | undefined, floor: number): number {
  return typeof value === 'number' && Number.isFinite(value)
    ? Math.max(floor, Math.floor(value))
    : floor;
}

function positiveOr(value: number | undefined, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : fallback;
}

function seconds(value: number): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value * 1000 : 0;
}

/**
 * The CRD validates these fields, but the function stays total: a bad value
 * degrades to the nearest safe one instead of producing NaN replicas.
 */
export function normalizeSpec(spec: ScalerSpec): NormalizedSpec {
  const minReplicas = wholeAtLeast(spec.minReplicas, 0);
  return {
    minReplicas,
    maxReplicas: wholeAtLeast(spec.maxReplicas, minReplicas),
    targetBacklogPerReplica: positiveOr(spec.targetBacklogPerReplica, 1),
    // A backlog of 0 is no work: an activation of 0 would wake an idle pool
    // on every poll and put it back to sleep after each cooldown.
    activationBacklog: positiveOr(spec.activationBacklog, 1),
    pollMs: seconds(spec.pollIntervalSeconds),
    stabilizationMs: seconds(spec.scaleDownStabilizationSeconds),
    cooldownMs: seconds(spec.scaleToZeroCooldownSeconds),
    tolerance:
      typeof spec.tolerance === 'number' && spec.tolerance >= 0
        ? spec.tolerance
        : DEFAULT_TOLERANCE,
    paused: spec.paused === true,
    enabled: spec.enabled !== false,
    replicas: spec.replicas === undefined ? undefined : wholeAtLeast(spec.replicas, 0),
  };
}

export function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}
