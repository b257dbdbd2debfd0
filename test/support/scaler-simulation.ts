/** Runs the scaling policy over scenarios on simulated time, for its tests. */
import { decide } from '../../scaling/decide.js';
import { EMPTY_HISTORY } from '../../scaling/history.js';
import type { ScaleReason, ScalerMetrics, ScalerSpec } from '../../scaling/types.js';

/** What one poll reads; the current replica count comes from the simulation. */
export type StepMetrics = Omit<ScalerMetrics, 'currentReplicas'>;

export interface ScenarioStep {
  /** Seconds since the scenario started. */
  at: number;
  metrics: StepMetrics;
}

export interface Scenario {
  spec: ScalerSpec;
  initialReplicas: number;
  steps: readonly ScenarioStep[];
}

export interface TimelinePoint {
  at: number;
  /** Replicas after applying this poll's decision. */
  replicas: number;
  reason: ScaleReason;
  message: string;
  backlog: number | undefined;
  recommendation: number | undefined;
}

/** The simulated clock's origin; any fixed ms timestamp works. */
export const SIMULATION_EPOCH_MS = Date.UTC(2026, 0, 1);

/**
 * Runs the policy over a scenario on simulated time. Each decision is applied
 * at once (the target is resized before the next poll), like a Deployment
 * whose replica count is set directly.
 */
export function simulate(scenario: Scenario): TimelinePoint[] {
  let replicas = scenario.initialReplicas;
  let history = EMPTY_HISTORY;
  const timeline: TimelinePoint[] = [];
  for (const step of scenario.steps) {
    const now = SIMULATION_EPOCH_MS + step.at * 1000;
    const decision = decide(
      { ...step.metrics, currentReplicas: replicas },
      history,
      scenario.spec,
      now,
    );
    history = decision.history;
    replicas = decision.desiredReplicas;
    timeline.push({
      at: step.at,
      replicas,
      reason: decision.reason,
      message: decision.message,
      backlog: decision.backlog,
      recommendation: decision.recommendation,
    });
  }
  return timeline;
}

/** The points where the replica count changes, as [seconds, replicas], starting with the first. */
export function replicaChanges(timeline: readonly TimelinePoint[]): Array<[number, number]> {
  const changes: Array<[number, number]> = [];
  for (const point of timeline) {
    const last = changes[changes.length - 1];
    if (last === undefined || last[1] !== point.replicas) changes.push([point.at, point.replicas]);
  }
  return changes;
}

/** Polls every `every` seconds from `from` up to (not including) `to`, each reading `metrics(t)`. */
export function polls(
  from: number,
  to: number,
  every: number,
  metrics: StepMetrics | ((at: number) => StepMetrics),
): ScenarioStep[] {
  const steps: ScenarioStep[] = [];
  for (let at = from; at < to; at += every) {
    steps.push({ at, metrics: typeof metrics === 'function' ? metrics(at) : metrics });
  }
  return steps;
}

/** A successful XINFO reading. */
export function reading(
  lag: number,
  pending = 0,
  lagSource: 'xinfo' | 'estimated' = 'xinfo',
): StepMetrics {
  return { lag, pending, backlog: lag + pending, lagSource, readOk: true };
}

/** `metrics` with the stream's entries-added counter at `entriesAdded`. */
export function counted(metrics: StepMetrics, entriesAdded: number): StepMetrics {
  return { ...metrics, entriesAdded };
}

/** A reading whose lag Redis did not report and that could not be estimated. */
export function unknownLag(pending = 0): StepMetrics {
  return { lag: undefined, pending, lagSource: 'unknown', readOk: true };
}

/** A poll where Redis could not be read. */
export const UNREADABLE: StepMetrics = Object.freeze({
  lag: undefined,
  pending: undefined,
  lagSource: 'unknown',
  readOk: false,
});
