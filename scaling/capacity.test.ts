import { describe, expect, it } from 'vitest';
import {
  type CapacityObservation,
  type CapacityState,
  capacityPerReplica,
  NO_CAPACITY,
  observeCapacity,
} from './capacity.js';

const LIMITS = { minSpanMs: 5_000, windowMs: 30_000, maxAgeMs: 600_000 };

/** One poll a second; `read(t)` is the entries-read counter at second t. */
function run(
  seconds: number,
  poll: (t: number) => Partial<CapacityObservation>,
  from: CapacityState = NO_CAPACITY,
  start = 0,
): CapacityState {
  let state = from;
  for (let t = start; t < start + seconds; t++) {
    state = observeCapacity(
      state,
      {
        at: t * 1000,
        entriesRead: undefined,
        lag: undefined,
        replicas: 2,
        readyReplicas: 2,
        ...poll(t),
      },
      LIMITS,
    );
  }
  return state;
}

/** Two ready replicas taking 30 entries a second between them, with work always waiting. */
const saturatedAt30 = (t: number) => ({ entriesRead: 30 * t, lag: 500 });

describe('per-replica capacity', () => {
  it('is measured while every replica is ready and work is waiting', () => {
    const state = run(10, saturatedAt30);
    expect(capacityPerReplica(state, 9_000, LIMITS.maxAgeMs)).toBe(15);
  });

  it('needs the stretch to span minSpanMs first', () => {
    const state = run(5, saturatedAt30);
    expect(capacityPerReplica(state, 4_000, LIMITS.maxAgeMs)).toBeUndefined();
  });

  it('is not measured when the workers keep up (it would only echo the arrival rate)', () => {
    const state = run(60, (t) => ({ entriesRead: 10 * t, lag: 0 }));
    expect(state.measured).toBeUndefined();
  });

  it('is not measured while replicas are starting', () => {
    const state = run(60, (t) => ({ ...saturatedAt30(t), readyReplicas: 1 }));
    expect(state.measured).toBeUndefined();
  });

  it('starts a new stretch when the replica count changes', () => {
    // 2 replicas at 15/s each, then 4 replicas at 15/s each: never a mix of the two.
    const two = run(10, saturatedAt30);
    const four = run(
      10,
      (t) => ({ entriesRead: 270 + 60 * (t - 9), lag: 500, replicas: 4, readyReplicas: 4 }),
      two,
      10,
    );
    expect(four.measured?.perReplica).toBe(15);
    // Right after the change, before the new stretch spans 5 s, the old figure stands.
    const early = run(
      3,
      (t) => ({ entriesRead: 270 + 60 * (t - 9), lag: 500, replicas: 4, readyReplicas: 4 }),
      two,
      10,
    );
    expect(early.measured).toEqual(two.measured);
  });

  it('ignores a stall: no progress with work waiting is not a capacity of zero', () => {
    const measured = run(10, saturatedAt30);
    const stalled = run(30, () => ({ entriesRead: 270, lag: 900 }), measured, 10);
    expect(stalled.measured).toEqual(measured.measured);
    // Work resumes at full speed: the stall is not averaged into the next figure.
    const resumed = run(6, (t) => ({ entriesRead: 270 + 30 * (t - 39), lag: 900 }), stalled, 40);
    expect(resumed.measured).toMatchObject({ perReplica: 15, at: 45_000 });
  });

  it('starts over when the counter goes back (stream recreated)', () => {
    const before = run(10, saturatedAt30);
    const after = run(4, (t) => ({ entriesRead: 5 * (t - 10), lag: 50 }), before, 10);
    // Too short a stretch since the reset to say anything new; never a negative rate.
    expect(after.measured).toEqual(before.measured);
    expect(after.stretch?.samples[0]?.value).toBe(0);
  });

  it('is dropped maxAgeMs after it was last measured', () => {
    const state = run(10, saturatedAt30);
    expect(capacityPerReplica(state, 9_000 + LIMITS.maxAgeMs, LIMITS.maxAgeMs)).toBe(15);
    expect(capacityPerReplica(state, 9_001 + LIMITS.maxAgeMs, LIMITS.maxAgeMs)).toBeUndefined();
  });

  it('follows a change of speed within the window', () => {
    const fast = run(40, saturatedAt30);
    const slow = run(40, (t) => ({ entriesRead: 1170 + 10 * (t - 39), lag: 500 }), fast, 40);
    expect(slow.measured?.perReplica).toBe(5);
  });

  it('needs the group counter (Redis 7 or later)', () => {
    const state = run(60, () => ({ entriesRead: undefined, lag: 500 }));
    expect(state.measured).toBeUndefined();
  });
});
