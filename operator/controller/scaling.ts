/**
 * Pure helpers of the scaling loop: the scaler spec of a pool,
 * the replica target the reconciler applies, and pod-deletion costs.
 */

import { replicaRule } from '../../scaling/replica-rule.js';
import { clamp } from '../../scaling/spec.js';
import type { ScalerSpec } from '../../scaling/types.js';
import type { ConsumerInfo } from '../../stream/backlog/types.js';
import type { WorkflowWorkerPool } from '../api/pool.js';
import type { Deployment, Pod } from '../kube/types.js';

/** The annotation the ReplicaSet controller reads to pick which pods go first on a scale down. */
export const POD_DELETION_COST = 'controller.kubernetes.io/pod-deletion-cost';
/** Cost of a pod whose consumer holds nothing: removed first. */
export const IDLE_POD_COST = -100;
/** Cost of a busy pod is this plus its pending count (capped), so the busiest go last. */
const BUSY_POD_COST_BASE = 100;
const MAX_POD_COST = 1_000_000;

export function scalerSpec(pool: WorkflowWorkerPool): ScalerSpec {
  const { autoscaling } = pool.spec;
  return {
    minReplicas: autoscaling.minReplicas,
    maxReplicas: autoscaling.maxReplicas,
    targetBacklogPerReplica: autoscaling.targetBacklogPerReplica,
    activationBacklog: autoscaling.activationBacklog,
    pollIntervalSeconds: autoscaling.pollIntervalSeconds,
    scaleDownStabilizationSeconds: autoscaling.scaleDownStabilizationSeconds,
    scaleToZeroCooldownSeconds: autoscaling.scaleToZeroCooldownSeconds,
    paused: pool.spec.paused,
    enabled: autoscaling.enabled,
    replicas: pool.spec.replicas,
  };
}

/**
 * Replicas the Deployment should have (not called while paused):
 *  - autoscaling off: spec.replicas (what `kubectl scale wwp/x` sets);
 *  - autoscaling on: the scaler's last answer; before the first poll, the
 *    Deployment's current size, or minReplicas for a new Deployment; always
 *    within [minReplicas, maxReplicas], so changed bounds apply at once.
 */
export function targetReplicas(
  pool: WorkflowWorkerPool,
  decided: number | undefined,
  deployment: Deployment | undefined,
): number {
  const rule = replicaRule(scalerSpec(pool));
  if (rule.kind === 'manual') return rule.replicas ?? pool.spec.replicas;
  const { minReplicas, maxReplicas } = pool.spec.autoscaling;
  const base = decided ?? deployment?.spec?.replicas ?? minReplicas;
  return clamp(base, minReplicas, Math.max(minReplicas, maxReplicas));
}

/** The deletion cost of a pod whose consumer holds `pending` entries. */
export function deletionCost(pending: number): number {
  return pending > 0 ? Math.min(MAX_POD_COST, BUSY_POD_COST_BASE + pending) : IDLE_POD_COST;
}

/**
 * Annotations to write before a scale down: idle pods (no consumer, or
 * nothing pending) cost little, busy ones more. Pods already carrying the
 * right value, and terminating pods, are left out.
 */
export function deletionCostPatches(
  pods: readonly Pod[],
  consumers: readonly ConsumerInfo[],
): Array<{ name: string; cost: string }> {
  const pendingOf = new Map(consumers.map((consumer) => [consumer.name, consumer.pending]));
  const patches: Array<{ name: string; cost: string }> = [];
  for (const pod of pods) {
    const name = pod.metadata?.name;
    if (!name || pod.metadata?.deletionTimestamp) continue;
    const cost = String(deletionCost(pendingOf.get(name) ?? 0));
    if (pod.metadata?.annotations?.[POD_DELETION_COST] !== cost) patches.push({ name, cost });
  }
  return patches;
}

/** Consumers with nothing pending whose pod no longer exists: safe to remove from the group. */
export function orphanedConsumers(
  consumers: readonly ConsumerInfo[],
  podNames: ReadonlySet<string>,
): ConsumerInfo[] {
  return consumers.filter((consumer) => consumer.pending === 0 && !podNames.has(consumer.name));
}

/** True when `deployment` is controlled by `pool` (an owner reference with its uid and controller: true). */
export function controlledBy(deployment: Deployment, pool: WorkflowWorkerPool): boolean {
  return (deployment.metadata?.ownerReferences ?? []).some(
    (owner) => owner.controller === true && owner.uid === pool.metadata.uid,
  );
}
