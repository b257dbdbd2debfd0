/**
 * Who sets a pool's size: nobody while it is paused, spec.replicas while
 * autoscaling is off, the scaler otherwise. The one place this rule lives;
 * decide(), the operator's reconcile and its status all ask it.
 */
import type { ScalerSpec } from './types.js';

export type ReplicaRule =
  /** spec.paused: the size is left as it is. */
  | { kind: 'paused' }
  /** autoscaling.enabled false: spec.replicas, when given. */
  | { kind: 'manual'; replicas: number | undefined }
  | { kind: 'autoscaled' };

export function replicaRule(
  spec: Pick<ScalerSpec, 'paused' | 'enabled' | 'replicas'>,
): ReplicaRule {
  if (spec.paused === true) return { kind: 'paused' };
  if (spec.enabled === false) return { kind: 'manual', replicas: spec.replicas };
  return { kind: 'autoscaled' };
}

/** Why a pool with autoscaling off runs `replicas`, for conditions, Events and decisions. */
export function manualReplicas(replicas: number): { reason: 'ManualReplicas'; message: string } {
  return {
    reason: 'ManualReplicas',
    message: `autoscaling disabled; running spec.replicas ${replicas}`,
  };
}
