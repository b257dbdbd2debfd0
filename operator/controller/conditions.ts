import { redactText } from '../../core/redact.js';
import type { PoolCondition, PoolConditionType } from '../api/pool.js';
import { CONDITION_TYPES } from '../api/pool.js';

/** A condition as computed, before timestamps. */
export interface ConditionState {
  type: PoolConditionType;
  status: 'True' | 'False' | 'Unknown';
  /** CamelCase, as metav1.Condition requires. */
  reason: string;
  message: string;
}

const MAX_MESSAGE = 32_768;

/**
 * The new condition list: `next` in the order of CONDITION_TYPES, each
 * keeping its previous lastTransitionTime unless its status changed.
 * Conditions of other types (set by someone else) are kept after them.
 */
export function mergeConditions(
  previous: readonly PoolCondition[] | undefined,
  next: readonly ConditionState[],
  now: Date,
  observedGeneration: number | undefined,
): PoolCondition[] {
  const before = new Map((previous ?? []).map((condition) => [condition.type, condition]));
  const ours = new Set<string>(CONDITION_TYPES);
  const merged: PoolCondition[] = [];
  for (const type of CONDITION_TYPES) {
    const state = next.find((condition) => condition.type === type);
    if (state === undefined) {
      const kept = before.get(type);
      if (kept) merged.push(kept);
      continue;
    }
    const old = before.get(type);
    const condition: PoolCondition = {
      type,
      status: state.status,
      reason: state.reason,
      // Hazard: a message may quote a driver's error, connection string included.
      message: redactText(state.message).slice(0, MAX_MESSAGE),
      lastTransitionTime:
        old !== undefined && old.status === state.status
          ? old.lastTransitionTime
          : now.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    };
    if (observedGeneration !== undefined) condition.observedGeneration = observedGeneration;
    merged.push(condition);
  }
  for (const condition of previous ?? []) {
    if (!ours.has(condition.type)) merged.push(condition);
  }
  return merged;
}
