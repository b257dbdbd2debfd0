import { describe, expect, it } from 'vitest';
import { API_VERSION, KIND, type WorkflowWorkerPool, withDefaults } from '../api/pool.js';
import type { Pod } from '../kube/types.js';
import {
  controlledBy,
  deletionCost,
  deletionCostPatches,
  IDLE_POD_COST,
  orphanedConsumers,
  POD_DELETION_COST,
  scalerSpec,
  targetReplicas,
} from './scaling.js';

function pool(spec: Record<string, unknown> = {}): WorkflowWorkerPool {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name: 'p', namespace: 'ns', uid: 'uid-p' },
    spec: withDefaults({
      image: 'flowpool:0.1.0',
      redis: { url: 'redis://r:6379' },
      database: { url: 'postgres://db/x' },
      ...spec,
    }),
  };
}

function pod(name: string, annotations?: Record<string, string>, terminating = false): Pod {
  return {
    metadata: {
      name,
      annotations,
      ...(terminating ? { deletionTimestamp: new Date() } : {}),
    },
  };
}

function consumer(name: string, pending: number) {
  return { name, pending, idleMs: 0 };
}

describe('targetReplicas', () => {
  it('runs spec.replicas when autoscaling is off', () => {
    const manual = pool({ replicas: 4, autoscaling: { enabled: false, maxReplicas: 2 } });
    expect(targetReplicas(manual, 9, { spec: { replicas: 7, selector: {}, template: {} } })).toBe(
      4,
    );
  });

  it('follows the scaler, within the bounds', () => {
    const auto = pool({ autoscaling: { minReplicas: 2, maxReplicas: 6 } });
    expect(targetReplicas(auto, 5, undefined)).toBe(5);
    expect(targetReplicas(auto, 9, undefined)).toBe(6);
    expect(targetReplicas(auto, 0, undefined)).toBe(2);
  });

  it('keeps the current size before the first poll, and starts a new pool at minReplicas', () => {
    const auto = pool({ autoscaling: { minReplicas: 0, maxReplicas: 6 } });
    expect(
      targetReplicas(auto, undefined, { spec: { replicas: 4, selector: {}, template: {} } }),
    ).toBe(4);
    expect(targetReplicas(auto, undefined, undefined)).toBe(0);
  });
});

describe('scalerSpec', () => {
  it('carries the autoscaling fields, paused and the manual replicas to decide()', () => {
    expect(scalerSpec(pool({ paused: true, replicas: 3 }))).toEqual({
      minReplicas: 1,
      maxReplicas: 10,
      targetBacklogPerReplica: 100,
      activationBacklog: 1,
      pollIntervalSeconds: 5,
      scaleDownStabilizationSeconds: 120,
      scaleToZeroCooldownSeconds: 300,
      paused: true,
      enabled: true,
      replicas: 3,
    });
  });
});

describe('pod deletion costs', () => {
  it('makes idle pods cheap and busy pods dear, busier dearer', () => {
    expect(deletionCost(0)).toBe(IDLE_POD_COST);
    expect(deletionCost(1)).toBeLessThan(deletionCost(50));
    expect(deletionCost(1)).toBeGreaterThan(IDLE_POD_COST);
    expect(deletionCost(1e12)).toBe(1_000_000);
  });

  it('annotates only pods whose cost changed, never terminating ones', () => {
    const pods = [
      pod('busy'),
      pod('idle'),
      pod('no-consumer'),
      pod('already', { [POD_DELETION_COST]: '-100' }),
      pod('going', undefined, true),
    ];
    const patches = deletionCostPatches(pods, [
      consumer('busy', 7),
      consumer('idle', 0),
      consumer('already', 0),
      consumer('going', 3),
    ]);
    expect(patches).toEqual([
      { name: 'busy', cost: '107' },
      { name: 'idle', cost: '-100' },
      { name: 'no-consumer', cost: '-100' },
    ]);
  });
});

describe('orphanedConsumers', () => {
  it('picks consumers of pods that are gone and hold nothing', () => {
    const orphans = orphanedConsumers(
      [consumer('alive', 0), consumer('gone', 0), consumer('gone-busy', 2)],
      new Set(['alive']),
    );
    expect(orphans.map((c) => c.name)).toEqual(['gone']);
  });
});

describe('controlledBy', () => {
  it('needs a controller reference with the pool uid', () => {
    const owned = {
      metadata: {
        ownerReferences: [
          { apiVersion: API_VERSION, kind: KIND, name: 'p', uid: 'uid-p', controller: true },
        ],
      },
    };
    expect(controlledBy(owned, pool())).toBe(true);
    const other = {
      metadata: { ownerReferences: [{ ...owned.metadata.ownerReferences[0]!, uid: 'x' }] },
    };
    expect(controlledBy(other, pool())).toBe(false);
    expect(controlledBy({ metadata: {} }, pool())).toBe(false);
  });
});
