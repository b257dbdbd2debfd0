import { describe, expect, it } from 'vitest';
import { Autoscaler, type BacklogSample, streamCounters } from './autoscaler.js';
import type { ScalerSpec } from './types.js';

const SPEC: ScalerSpec = {
  minReplicas: 1,
  maxReplicas: 10,
  targetBacklogPerReplica: 10,
  activationBacklog: 1,
  pollIntervalSeconds: 1,
  scaleDownStabilizationSeconds: 30,
  scaleToZeroCooldownSeconds: 60,
};

function backlog(value: number, entriesAdded: number): BacklogSample {
  return { readOk: true, lag: value, pending: 0, backlog: value, lagSource: 'xinfo', entriesAdded };
}

describe('Autoscaler', () => {
  it('remembers the quiet polls between calls: zero comes after the cooldown', () => {
    const spec = {
      ...SPEC,
      minReplicas: 0,
      scaleDownStabilizationSeconds: 0,
      scaleToZeroCooldownSeconds: 2,
    };
    const step = (autoscaler: Autoscaler, at: number) =>
      autoscaler.step(
        { reading: backlog(0, 7), currentReplicas: 1, workers: { replicas: 1, readyReplicas: 1 } },
        spec,
        at,
      ).decision;
    const autoscaler = new Autoscaler();
    const t0 = 1_000_000;
    // The first reading cannot show that nothing arrived; the second one can.
    expect(step(autoscaler, t0)).toMatchObject({ desiredReplicas: 1, reason: 'ZeroCooldown' });
    expect(step(autoscaler, t0 + 1_000)).toMatchObject({ desiredReplicas: 1 });
    expect(step(autoscaler, t0 + 3_500)).toMatchObject({
      desiredReplicas: 0,
      reason: 'ScaleToZero',
    });
    // Without that memory the same reading keeps one replica.
    expect(step(new Autoscaler(), t0 + 3_500)).toMatchObject({ desiredReplicas: 1 });
  });

  it('leaves a paused pool alone and runs spec.replicas with autoscaling off', () => {
    const autoscaler = new Autoscaler();
    const reading = backlog(500, 500);
    const workers = { replicas: 2, readyReplicas: 2 };
    const paused = autoscaler.step(
      { reading, currentReplicas: 2, workers },
      { ...SPEC, paused: true },
      1,
    );
    expect(paused.decision).toMatchObject({ desiredReplicas: 2, reason: 'Paused' });
    const manual = autoscaler.step(
      { reading, currentReplicas: 2, workers },
      { ...SPEC, enabled: false, replicas: 4 },
      2,
    );
    expect(manual.decision).toMatchObject({ desiredReplicas: 4, reason: 'ManualReplicas' });
  });

  it('follows no counter of a reading that failed', () => {
    expect(
      streamCounters({
        readOk: false,
        lag: undefined,
        pending: undefined,
        backlog: undefined,
        lagSource: 'unknown',
      }),
    ).toEqual({
      entriesAdded: undefined,
      entriesRead: undefined,
      lag: undefined,
      pending: undefined,
    });
  });
});
