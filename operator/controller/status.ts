/**
 * The status of a pool, computed from what the reconciler and the last
 * backlog poll saw. Pure, so every reason and message is unit-tested.
 */

import { manualReplicas } from '../../scaling/replica-rule.js';
import type { BacklogKnown } from '../../stream/backlog/types.js';
import type { WorkflowWorkerPool, WorkflowWorkerPoolStatus } from '../api/pool.js';
import type { Deployment, PoolStatusPatch } from '../kube/types.js';
import { selectorString } from '../render/deployment.js';
import { type ConditionState, mergeConditions } from './conditions.js';

/** What the last poll learned about the stream. */
export type StreamView =
  | { kind: 'not-polled' }
  | { kind: 'read'; reading: BacklogKnown }
  /** Redis (or the Secret naming it) could not be read; `reason` is CamelCase. */
  | { kind: 'unreadable'; reason: string; message: string; url?: string | undefined };

/** What became of applying the Deployment in this reconcile. */
export type ApplyOutcome =
  | { kind: 'applied' }
  | { kind: 'paused' }
  /** Nothing was applied: `reason` is CamelCase, `message` says what to fix. */
  | { kind: 'failed'; reason: string; message: string };

export interface LastScale {
  time: string;
  reason: string;
}

export interface StatusInputs {
  pool: WorkflowWorkerPool;
  /** The Deployment as it is now (after the apply), if any. */
  deployment: Deployment | undefined;
  /** Replicas the operator asks for; undefined when paused. */
  target: number | undefined;
  apply: ApplyOutcome;
  stream: StreamView;
  /** The last scaler decision (or the manual rule), for the Scaling condition. */
  decision: { reason: string; message: string } | undefined;
  lastScale: LastScale | undefined;
  now: Date;
}

function readyCondition(inputs: StatusInputs): ConditionState {
  const { apply, deployment, pool } = inputs;
  const paused = pool.spec.paused;
  if (apply.kind === 'failed') {
    return { type: 'Ready', status: 'False', reason: apply.reason, message: apply.message };
  }
  if (deployment === undefined) {
    return paused
      ? {
          type: 'Ready',
          status: 'False',
          reason: 'Paused',
          message:
            'spec.paused is true and the pool has no Deployment; none is created while paused',
        }
      : {
          type: 'Ready',
          status: 'False',
          reason: 'DeploymentMissing',
          message: `Deployment ${pool.metadata.name} does not exist yet`,
        };
  }
  const wanted = deployment.spec?.replicas ?? 1;
  const ready = deployment.status?.readyReplicas ?? 0;
  if (wanted === 0) {
    return {
      type: 'Ready',
      status: 'True',
      reason: 'ScaledToZero',
      message: 'no workers are needed: the pool runs 0 replicas',
    };
  }
  if (ready >= wanted) {
    return {
      type: 'Ready',
      status: 'True',
      reason: 'WorkersReady',
      message: `${ready}/${wanted} workers ready`,
    };
  }
  return {
    type: 'Ready',
    status: 'False',
    reason: 'WorkersNotReady',
    message: `${ready}/${wanted} workers ready`,
  };
}

function scalingCondition(inputs: StatusInputs): ConditionState {
  const { pool, deployment, target, decision, lastScale } = inputs;
  if (pool.spec.paused) {
    return {
      type: 'Scaling',
      status: 'False',
      reason: 'Paused',
      message: 'spec.paused is true: the operator leaves the Deployment and its replicas alone',
    };
  }
  const running = deployment?.status?.replicas ?? 0;
  if (deployment !== undefined && target !== undefined && running !== target) {
    const reason =
      lastScale?.reason ?? decision?.reason ?? (target > running ? 'ScaleUp' : 'ScaleDown');
    const why = decision?.message ? `: ${decision.message}` : '';
    return {
      type: 'Scaling',
      status: 'True',
      reason,
      message: `${running} → ${target} workers${why}`,
    };
  }
  if (decision !== undefined) {
    return { type: 'Scaling', status: 'False', reason: decision.reason, message: decision.message };
  }
  const waiting = pool.spec.autoscaling.enabled
    ? { reason: 'NotPolled', message: 'waiting for the first backlog reading' }
    : manualReplicas(pool.spec.replicas);
  return { type: 'Scaling', status: 'False', ...waiting };
}

function describeReading(reading: BacklogKnown): string {
  return `backlog ${reading.backlog} (lag ${reading.lag} ${reading.lagSource} + pending ${reading.pending})`;
}

function streamCondition(inputs: StatusInputs): ConditionState {
  const { stream: view, pool, target } = inputs;
  const { stream, consumerGroup } = pool.spec.redis;
  const where = `stream ${stream} group ${consumerGroup}`;
  switch (view.kind) {
    case 'not-polled':
      return {
        type: 'StreamReachable',
        status: 'Unknown',
        reason: 'NotPolled',
        message: `${where} has not been read yet`,
      };
    case 'unreadable': {
      const held = target === undefined ? '' : `; holding ${target} replicas`;
      return {
        type: 'StreamReachable',
        status: 'False',
        reason: view.reason,
        message: `cannot read ${where}${view.url ? ` at ${view.url}` : ''}: ${view.message}${held}`,
      };
    }
    case 'read': {
      const { reading } = view;
      if (reading.streamState === 'missing-stream') {
        return {
          type: 'StreamReachable',
          status: 'True',
          reason: 'StreamNotCreated',
          message: `${stream} does not exist yet (workers create it); no work is waiting`,
        };
      }
      if (reading.streamState === 'missing-group') {
        return {
          type: 'StreamReachable',
          status: 'True',
          reason: 'GroupNotCreated',
          message: `${stream} has no group ${consumerGroup} yet (workers create it); counting every entry as lag: ${describeReading(reading)}`,
        };
      }
      return {
        type: 'StreamReachable',
        status: 'True',
        reason: 'BacklogRead',
        message: `${where}: ${describeReading(reading)}`,
      };
    }
  }
}

/** The conditions of a pool, in CONDITION_TYPES order. */
function poolConditions(inputs: StatusInputs): ConditionState[] {
  return [readyCondition(inputs), scalingCondition(inputs), streamCondition(inputs)];
}

/**
 * The whole status as a merge patch: fields that are not known are null,
 * so a stale figure (a backlog read before Redis went away) is removed.
 */
export function computeStatus(inputs: StatusInputs): PoolStatusPatch {
  const { pool, deployment, target, stream, lastScale, now } = inputs;
  const previous: WorkflowWorkerPoolStatus = pool.status ?? {};
  const generation = pool.metadata.generation;
  const reading = stream.kind === 'read' ? stream.reading : undefined;
  return {
    replicas: deployment?.status?.replicas ?? 0,
    readyReplicas: deployment?.status?.readyReplicas ?? 0,
    desiredReplicas: target ?? previous.desiredReplicas ?? null,
    backlog: reading?.backlog ?? null,
    lag: reading?.lag ?? null,
    pending: reading?.pending ?? null,
    lagSource: reading?.lagSource ?? 'unknown',
    selector: selectorString(pool.metadata.name ?? ''),
    lastScaleTime: lastScale?.time ?? previous.lastScaleTime ?? null,
    lastScaleReason: lastScale?.reason ?? previous.lastScaleReason ?? null,
    observedGeneration: generation ?? null,
    conditions: mergeConditions(previous.conditions, poolConditions(inputs), now, generation),
  };
}

/** Structural equality of JSON values; object key order does not matter (the server sorts keys). */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((item, index) => sameJson(item, b[index]));
  }
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  const left = Object.entries(a).filter(([, value]) => value !== undefined);
  const right = b as Record<string, unknown>;
  const rightKeys = Object.keys(right).filter((key) => right[key] !== undefined);
  return (
    left.length === rightKeys.length && left.every(([key, value]) => sameJson(value, right[key]))
  );
}

/** True when applying `patch` would leave `status` as it is. */
export function statusUnchanged(
  status: WorkflowWorkerPoolStatus | undefined,
  patch: PoolStatusPatch,
): boolean {
  const current = (status ?? {}) as Record<string, unknown>;
  return Object.entries(patch).every(([key, value]) =>
    value === null ? current[key] === undefined : sameJson(current[key], value),
  );
}
