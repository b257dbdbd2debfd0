import type { NormalizedSpec } from './spec.js';
import type { BacklogView, Recommended } from './terms.js';
import type { CapacitySource, ScalerMetrics } from './types.js';

const CAPACITY_WORDS: Record<CapacitySource, string> = {
  saturated: 'measured',
  occupancy: 'from occupancy',
  prior: 'assumed',
};

function figure(value: number | undefined): string {
  if (value === undefined) return '?';
  return Number.isInteger(value) ? String(value) : value.toFixed(2);
}

/** The numbers behind a recommendation, e.g. "backlog 450 (lag 400 xinfo + pending 50) / 100 per replica → 5". */
export function describeInputs(
  view: BacklogView,
  metrics: ScalerMetrics,
  rec: Recommended,
  spec: NormalizedSpec,
): string {
  const perReplica = `${figure(spec.targetBacklogPerReplica)} per replica`;
  const backlog =
    view.kind === 'known'
      ? `backlog ${figure(view.backlog)} (lag ${figure(metrics.lag)} ${metrics.lagSource} + pending ${figure(metrics.pending)}) / ${perReplica} → ${rec.backlogReplicas}`
      : `lag unknown, at least ${figure(view.lowerBound)} (pending ${figure(metrics.pending)}) / ${perReplica} → ${rec.backlogReplicas}`;
  if (!rec.rateKnown) return backlog;
  const source = metrics.capacitySource ? ` (${CAPACITY_WORDS[metrics.capacitySource]})` : '';
  const rate = `arrival ${figure(metrics.arrivalRate)}/s at ${figure(metrics.processingRatePerReplica)}/s per replica${source} → ${rec.rateReplicas}`;
  return `${backlog}; ${rate}`;
}

export function bounds(spec: NormalizedSpec): string {
  return `[${spec.minReplicas}, ${spec.maxReplicas}]`;
}
