import { describe, expect, it } from 'vitest';
import type { BacklogKnown } from '../../stream/backlog/types.js';
import { API_VERSION, KIND, type WorkflowWorkerPool, withDefaults } from '../api/pool.js';
import type { Deployment } from '../kube/types.js';
import { mergeConditions } from './conditions.js';
import { computeStatus, type StatusInputs, sameJson, statusUnchanged } from './status.js';

const NOW = new Date('2026-01-02T03:04:05.678Z');

function pool(spec: Record<string, unknown> = {}, status?: WorkflowWorkerPool['status']) {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name: 'p', namespace: 'ns', uid: 'u', generation: 3 },
    spec: withDefaults({
      image: 'flowpool:0.1.0',
      redis: { url: 'redis://r:6379', stream: 'workflow:events:p' },
      database: { url: 'postgres://db/x' },
      ...spec,
    }),
    status,
  } as WorkflowWorkerPool;
}

function deployment(replicas: number, running: number, ready: number): Deployment {
  return {
    spec: { replicas, selector: {}, template: {} },
    status: { replicas: running, readyReplicas: ready },
  };
}

const reading: BacklogKnown = {
  readOk: true,
  lag: 40,
  pending: 5,
  backlog: 45,
  lagSource: 'xinfo',
  streamState: 'present',
};

function inputs(overrides: Partial<StatusInputs> = {}): StatusInputs {
  return {
    pool: pool(),
    deployment: deployment(3, 3, 3),
    target: 3,
    apply: { kind: 'applied' },
    stream: { kind: 'read', reading },
    decision: { reason: 'Steady', message: 'keeping 3' },
    lastScale: undefined,
    now: NOW,
    ...overrides,
  };
}

function conditionOf(patch: ReturnType<typeof computeStatus>, type: string) {
  return patch.conditions?.find((condition) => condition.type === type);
}

describe('computeStatus', () => {
  it('fills every field of the design from the Deployment and the last reading', () => {
    const status = computeStatus(
      inputs({ lastScale: { time: '2026-01-02T03:00:00Z', reason: 'ScaleUp' } }),
    );
    expect(status).toMatchObject({
      replicas: 3,
      readyReplicas: 3,
      desiredReplicas: 3,
      backlog: 45,
      lag: 40,
      pending: 5,
      lagSource: 'xinfo',
      selector:
        'app.kubernetes.io/name=flowpool-worker,app.kubernetes.io/instance=p,flowpool.dev/pool=p',
      lastScaleTime: '2026-01-02T03:00:00Z',
      lastScaleReason: 'ScaleUp',
      observedGeneration: 3,
    });
    expect(status.conditions?.map((c) => [c.type, c.status, c.reason])).toEqual([
      ['Ready', 'True', 'WorkersReady'],
      ['Scaling', 'False', 'Steady'],
      ['StreamReachable', 'True', 'BacklogRead'],
    ]);
    for (const condition of status.conditions ?? []) {
      expect(condition.lastTransitionTime).toBe('2026-01-02T03:04:05Z');
      expect(condition.observedGeneration).toBe(3);
    }
    expect(conditionOf(status, 'StreamReachable')?.message).toBe(
      'stream workflow:events:p group workflow-workers: backlog 45 (lag 40 xinfo + pending 5)',
    );
  });

  it('says Scaling while the Deployment has not caught up, with the decision behind it', () => {
    const status = computeStatus(
      inputs({
        deployment: deployment(5, 3, 3),
        target: 5,
        decision: { reason: 'ScaleUp', message: 'scaling 3 → 5: backlog 45' },
        lastScale: { time: 't', reason: 'ScaleUp' },
      }),
    );
    expect(conditionOf(status, 'Scaling')).toMatchObject({
      status: 'True',
      reason: 'ScaleUp',
      message: '3 → 5 workers: scaling 3 → 5: backlog 45',
    });
    expect(conditionOf(status, 'Ready')).toMatchObject({
      status: 'False',
      reason: 'WorkersNotReady',
      message: '3/5 workers ready',
    });
  });

  it('reports a pool at zero as ready', () => {
    const status = computeStatus(inputs({ deployment: deployment(0, 0, 0), target: 0 }));
    expect(conditionOf(status, 'Ready')).toMatchObject({ status: 'True', reason: 'ScaledToZero' });
  });

  it('clears figures it cannot vouch for when Redis is unreadable, and says it holds', () => {
    const previous = computeStatus(inputs());
    const status = computeStatus(
      inputs({
        pool: pool({}, previous as WorkflowWorkerPool['status']),
        stream: {
          kind: 'unreadable',
          reason: 'RedisUnavailable',
          message: 'cannot connect to Redis: connection refused',
          url: 'redis://redis:6379',
        },
        decision: {
          reason: 'HoldRedisUnavailable',
          message: 'Redis unreadable; holding 3 replicas',
        },
      }),
    );
    expect(status).toMatchObject({ backlog: null, lag: null, pending: null, lagSource: 'unknown' });
    expect(conditionOf(status, 'StreamReachable')).toMatchObject({
      status: 'False',
      reason: 'RedisUnavailable',
      message:
        'cannot read stream workflow:events:p group workflow-workers at redis://redis:6379: cannot connect to Redis: connection refused; holding 3 replicas',
    });
    expect(conditionOf(status, 'Scaling')).toMatchObject({
      status: 'False',
      reason: 'HoldRedisUnavailable',
    });
  });

  it('reports a stream or group that does not exist yet as reachable', () => {
    const missing = computeStatus(
      inputs({
        stream: {
          kind: 'read',
          reading: { ...reading, lag: 0, pending: 0, backlog: 0, streamState: 'missing-stream' },
        },
      }),
    );
    expect(conditionOf(missing, 'StreamReachable')).toMatchObject({
      status: 'True',
      reason: 'StreamNotCreated',
    });
    const noGroup = computeStatus(
      inputs({
        stream: {
          kind: 'read',
          reading: { ...reading, lagSource: 'estimated', streamState: 'missing-group' },
        },
      }),
    );
    expect(noGroup.lagSource).toBe('estimated');
    expect(conditionOf(noGroup, 'StreamReachable')?.reason).toBe('GroupNotCreated');
  });

  it('says so when paused, keeping the last desired count', () => {
    const status = computeStatus(
      inputs({
        pool: pool({ paused: true }, { desiredReplicas: 4 }),
        target: undefined,
        apply: { kind: 'paused' },
      }),
    );
    expect(status.desiredReplicas).toBe(4);
    expect(conditionOf(status, 'Scaling')).toMatchObject({ status: 'False', reason: 'Paused' });
    const none = computeStatus(
      inputs({
        pool: pool({ paused: true }),
        deployment: undefined,
        target: undefined,
        apply: { kind: 'paused' },
      }),
    );
    expect(conditionOf(none, 'Ready')).toMatchObject({ status: 'False', reason: 'Paused' });
    expect(none.desiredReplicas).toBeNull();
  });

  it('reports apply failures and missing readings in Ready and StreamReachable', () => {
    const status = computeStatus(
      inputs({
        apply: { kind: 'failed', reason: 'InvalidStream', message: 'fix spec.redis.stream' },
        stream: { kind: 'not-polled' },
        decision: undefined,
      }),
    );
    expect(conditionOf(status, 'Ready')).toMatchObject({
      status: 'False',
      reason: 'InvalidStream',
      message: 'fix spec.redis.stream',
    });
    expect(conditionOf(status, 'StreamReachable')).toMatchObject({
      status: 'Unknown',
      reason: 'NotPolled',
    });
    expect(conditionOf(status, 'Scaling')?.reason).toBe('NotPolled');
  });
});

describe('mergeConditions', () => {
  const earlier = new Date('2026-01-01T00:00:00Z');
  it('keeps lastTransitionTime while the status stays, and moves it when it flips', () => {
    const first = mergeConditions(
      undefined,
      [{ type: 'Ready', status: 'False', reason: 'WorkersNotReady', message: '0/1' }],
      earlier,
      1,
    );
    const same = mergeConditions(
      first,
      [{ type: 'Ready', status: 'False', reason: 'ApplyFailed', message: 'boom' }],
      NOW,
      2,
    );
    expect(same[0]).toMatchObject({
      reason: 'ApplyFailed',
      lastTransitionTime: '2026-01-01T00:00:00Z',
      observedGeneration: 2,
    });
    const flipped = mergeConditions(
      same,
      [{ type: 'Ready', status: 'True', reason: 'WorkersReady', message: '1/1' }],
      NOW,
      2,
    );
    expect(flipped[0]?.lastTransitionTime).toBe('2026-01-02T03:04:05Z');
  });

  it('redacts the credentials an error message quotes', () => {
    const [ready] = mergeConditions(
      undefined,
      [
        {
          type: 'StreamReachable',
          status: 'False',
          reason: 'RedisUnavailable',
          message: 'cannot read: connect ECONNREFUSED redis://app:hunter2@redis:6379',
        },
      ],
      NOW,
      1,
    );
    expect(ready?.message).toContain('redis:6379');
    expect(ready?.message).not.toContain('hunter2');
  });

  it('keeps conditions of other types after its own', () => {
    const foreign = {
      type: 'Audited',
      status: 'True' as const,
      reason: 'Done',
      message: '',
      lastTransitionTime: '2026-01-01T00:00:00Z',
    };
    const merged = mergeConditions(
      [foreign],
      [{ type: 'Scaling', status: 'False', reason: 'Steady', message: '' }],
      NOW,
      undefined,
    );
    expect(merged.map((c) => c.type)).toEqual(['Scaling', 'Audited']);
    expect(merged[0]).not.toHaveProperty('observedGeneration');
  });
});

describe('statusUnchanged', () => {
  it('ignores key order (the API server sorts keys) and treats null as absent', () => {
    const patch = computeStatus(inputs());
    // As the server would hand it back: keys sorted, nulls gone.
    const sorted = (value: unknown): unknown =>
      Array.isArray(value)
        ? value.map(sorted)
        : value !== null && typeof value === 'object'
          ? Object.fromEntries(
              Object.keys(value)
                .sort()
                .filter((key) => (value as Record<string, unknown>)[key] !== null)
                .map((key) => [key, sorted((value as Record<string, unknown>)[key])]),
            )
          : value;
    const fromServer = sorted(patch) as WorkflowWorkerPool['status'];
    expect(statusUnchanged(fromServer, patch)).toBe(true);
    expect(statusUnchanged({ ...fromServer, backlog: 1 }, patch)).toBe(false);
    expect(statusUnchanged(undefined, patch)).toBe(false);
    expect(sameJson({ a: 1, b: [1, { c: 2 }] }, { b: [1, { c: 2 }], a: 1 })).toBe(true);
    expect(sameJson({ a: 1 }, { a: 1, b: 2 })).toBe(false);
  });
});
