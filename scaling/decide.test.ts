import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  counted,
  polls,
  reading,
  replicaChanges,
  type ScenarioStep,
  type StepMetrics,
  simulate,
  UNREADABLE,
  unknownLag,
} from '../test/support/scaler-simulation.js';
import { decide } from './decide.js';
import { EMPTY_HISTORY } from './history.js';
import type { ScaleReason, ScalerSpec } from './types.js';

const BASE: ScalerSpec = {
  minReplicas: 1,
  maxReplicas: 10,
  targetBacklogPerReplica: 100,
  activationBacklog: 1,
  pollIntervalSeconds: 5,
  scaleDownStabilizationSeconds: 120,
  scaleToZeroCooldownSeconds: 300,
  tolerance: 0.1,
};

const ZERO_OK: Partial<ScalerSpec> = { minReplicas: 0 };

interface Row {
  name: string;
  spec?: Partial<ScalerSpec>;
  initial: number;
  steps: ScenarioStep[];
  /** [seconds, replicas] at each change, starting with the first poll. */
  changes: Array<[number, number]>;
  /** Reasons expected at some polls. */
  reasons?: Record<number, ScaleReason>;
}

const withRates = (m: StepMetrics, arrivalRate: number, perReplica?: number): StepMetrics => ({
  ...m,
  arrivalRate,
  processingRatePerReplica: perReplica,
});

const scenarios: Row[] = [
  {
    name: 'a burst scales up at once',
    initial: 1,
    steps: polls(0, 60, 5, (t) => reading(t < 10 ? 0 : 900, t < 10 ? 0 : 50)),
    changes: [
      [0, 1],
      [10, 10],
    ],
    reasons: { 0: 'AtMin', 10: 'ScaleUp', 15: 'WithinTolerance' },
  },
  {
    name: 'a burst beyond max stops at max',
    initial: 2,
    steps: polls(0, 30, 5, reading(5000)),
    changes: [[0, 10]],
    reasons: { 0: 'ScaleUp', 5: 'AtMax' },
  },
  {
    name: 'scale down goes to the highest recommendation of the window',
    initial: 1,
    steps: polls(0, 300, 5, (t) => reading(t < 60 ? 800 : t < 150 ? 400 : 100)),
    changes: [
      [0, 8],
      [175, 4],
      [265, 1],
    ],
    reasons: { 60: 'Stabilizing', 170: 'Stabilizing', 175: 'ScaleDown', 265: 'ScaleDown' },
  },
  {
    name: 'a short dip inside the window does not scale down',
    initial: 1,
    steps: polls(0, 600, 5, (t) => reading(t % 90 >= 60 ? 0 : 500)),
    changes: [[0, 5]],
    reasons: { 60: 'Stabilizing', 90: 'WithinTolerance' },
  },
  {
    name: 'no flapping inside the tolerance',
    initial: 4,
    steps: polls(0, 600, 5, (t) => reading(t % 10 === 0 ? 340 : 400, 30)),
    changes: [[0, 4]],
    reasons: { 0: 'WithinTolerance', 5: 'WithinTolerance' },
  },
  {
    name: 'the tolerance edge: 10% over stays, just beyond scales',
    initial: 4,
    steps: [
      { at: 0, metrics: reading(440) },
      { at: 5, metrics: reading(445) },
    ],
    changes: [
      [0, 4],
      [5, 5],
    ],
    reasons: { 0: 'WithinTolerance', 5: 'ScaleUp' },
  },
  {
    name: 'scale to zero after the cooldown, wake on activation',
    spec: ZERO_OK,
    initial: 1,
    steps: polls(0, 480, 5, (t) => reading(t < 60 ? 150 : t < 420 ? 0 : 3)),
    changes: [
      [0, 2],
      [175, 1],
      [360, 0],
      [420, 1],
    ],
    reasons: {
      100: 'Stabilizing',
      175: 'ScaleDown',
      180: 'ZeroCooldown',
      360: 'ScaleToZero',
      400: 'BelowActivation',
      420: 'WakeFromZero',
    },
  },
  {
    name: 'below the activation backlog a pool stays at zero',
    spec: { ...ZERO_OK, activationBacklog: 5 },
    initial: 0,
    steps: polls(0, 90, 5, (t) => reading(t < 30 ? 3 : t < 60 ? 4 : 5)),
    changes: [
      [0, 0],
      [60, 1],
    ],
    reasons: { 0: 'BelowActivation', 55: 'BelowActivation', 60: 'WakeFromZero' },
  },
  {
    name: 'waking sizes to the backlog',
    spec: ZERO_OK,
    initial: 0,
    steps: polls(0, 30, 5, reading(250)),
    changes: [[0, 3]],
    reasons: { 0: 'WakeFromZero' },
  },
  {
    name: 'an unknown lag never counts as zero',
    spec: ZERO_OK,
    initial: 1,
    steps: polls(0, 900, 5, unknownLag(0)),
    changes: [[0, 1]],
    reasons: { 0: 'HoldUnknownLag', 600: 'HoldUnknownLag' },
  },
  {
    name: 'an estimated lag of zero is a known zero',
    spec: ZERO_OK,
    initial: 1,
    steps: polls(0, 400, 5, reading(0, 0, 'estimated')),
    changes: [
      [0, 1],
      [300, 0],
    ],
    reasons: { 0: 'Stabilizing', 120: 'ZeroCooldown', 300: 'ScaleToZero' },
  },
  {
    name: 'an unknown lag scales up on pending, never down',
    initial: 2,
    steps: polls(0, 400, 5, (t) => unknownLag(t < 60 ? 500 : 100)),
    changes: [[0, 5]],
    reasons: { 0: 'ScaleUp', 300: 'HoldUnknownLag' },
  },
  {
    name: 'at zero, an unknown lag wakes the pool',
    spec: ZERO_OK,
    initial: 0,
    steps: polls(0, 30, 5, unknownLag(0)),
    changes: [[0, 1]],
    reasons: { 0: 'WakeFromZero', 5: 'HoldUnknownLag' },
  },
  {
    name: 'Redis errors hold the size; scale down waits a full window after',
    initial: 3,
    steps: polls(0, 360, 5, (t) => (t >= 60 && t < 180 ? UNREADABLE : reading(t < 60 ? 250 : 0))),
    changes: [
      [0, 3],
      [300, 1],
    ],
    reasons: { 0: 'Steady', 60: 'HoldRedisUnavailable', 180: 'Stabilizing', 300: 'ScaleDown' },
  },
  {
    name: 'a failed read restarts the zero cooldown',
    spec: ZERO_OK,
    initial: 1,
    steps: polls(0, 600, 5, (t) => (t === 205 ? UNREADABLE : reading(0))),
    changes: [
      [0, 1],
      [510, 0],
    ],
    reasons: {
      205: 'HoldRedisUnavailable',
      300: 'Stabilizing',
      505: 'ZeroCooldown',
      510: 'ScaleToZero',
    },
  },
  {
    name: 'a gap in polling restarts the zero cooldown',
    spec: ZERO_OK,
    initial: 1,
    steps: [...polls(0, 200, 5, reading(0)), ...polls(260, 700, 5, reading(0))],
    changes: [
      [0, 1],
      [560, 0],
    ],
  },
  {
    name: 'the zero cooldown starts at the first known zero',
    spec: ZERO_OK,
    initial: 1,
    steps: polls(0, 900, 5, (t) => (t < 300 ? unknownLag(0) : reading(0))),
    changes: [
      [0, 1],
      [600, 0],
    ],
    reasons: { 295: 'HoldUnknownLag', 300: 'Stabilizing', 420: 'ZeroCooldown', 600: 'ScaleToZero' },
  },
  {
    name: 'Redis unreadable at zero stays at zero',
    spec: ZERO_OK,
    initial: 0,
    steps: polls(0, 60, 5, UNREADABLE),
    changes: [[0, 0]],
    reasons: { 0: 'HoldRedisUnavailable' },
  },
  {
    name: 'min and max clamp the backlog term',
    spec: { minReplicas: 2, maxReplicas: 5 },
    initial: 1,
    steps: polls(0, 300, 5, (t) => reading(t >= 60 && t < 120 ? 900 : 0)),
    changes: [
      [0, 2],
      [60, 5],
      [235, 2],
    ],
    reasons: { 0: 'ScaleUp', 5: 'AtMin', 65: 'AtMax', 120: 'Stabilizing', 240: 'AtMin' },
  },
  {
    name: 'a replica count above max comes down at once',
    spec: { maxReplicas: 4 },
    initial: 8,
    steps: polls(0, 30, 5, reading(800)),
    changes: [[0, 4]],
    reasons: { 0: 'ScaleDown', 5: 'AtMax' },
  },
  {
    name: 'Redis errors still respect a lowered max',
    spec: { maxReplicas: 4 },
    initial: 8,
    steps: polls(0, 15, 5, UNREADABLE),
    changes: [[0, 4]],
    reasons: { 0: 'HoldRedisUnavailable' },
  },
  {
    name: 'the rate term keeps up with arrivals',
    initial: 1,
    steps: polls(0, 240, 5, (t) => withRates(reading(50), t < 60 ? 40 : 5, 10)),
    changes: [
      [0, 4],
      [175, 1],
    ],
    reasons: { 0: 'ScaleUp', 5: 'WithinTolerance', 100: 'Stabilizing', 175: 'ScaleDown' },
  },
  {
    name: 'the rate term needs a known processing rate',
    initial: 1,
    steps: polls(0, 30, 5, withRates(reading(50), 40)),
    changes: [[0, 1]],
  },
  {
    name: 'arrivals keep a pool from going to zero',
    spec: ZERO_OK,
    initial: 1,
    steps: polls(0, 600, 5, withRates(reading(0), 2, 10)),
    changes: [[0, 1]],
  },
  {
    name: 'a steady trickle the workers keep up with never reaches zero',
    // Backlog 0 at every poll, but one event arrived between every two polls.
    spec: { ...ZERO_OK, scaleToZeroCooldownSeconds: 15, scaleDownStabilizationSeconds: 10 },
    initial: 1,
    steps: polls(0, 900, 2, (t) => counted(reading(0), t / 2)),
    changes: [[0, 1]],
    reasons: { 20: 'ZeroCooldown', 898: 'ZeroCooldown' },
  },
  {
    name: 'an event now and then restarts the zero cooldown',
    // One event every 10 s against a 15 s cooldown: never 15 s without one.
    spec: { ...ZERO_OK, scaleToZeroCooldownSeconds: 15, scaleDownStabilizationSeconds: 10 },
    initial: 1,
    steps: polls(0, 600, 2, (t) => counted(reading(0), Math.floor(t / 10))),
    changes: [[0, 1]],
  },
  {
    name: 'once arrivals stop, zero follows after the cooldown',
    spec: { ...ZERO_OK, scaleToZeroCooldownSeconds: 15, scaleDownStabilizationSeconds: 10 },
    initial: 1,
    // Arrivals until 100 s; the poll at 102 s is the first to see the
    // counter unchanged, so the quiet run starts there and lasts 15 s at 117 s.
    steps: polls(0, 200, 2, (t) => counted(reading(0), Math.min(t, 100) / 2)),
    changes: [
      [0, 1],
      [118, 0],
    ],
    reasons: { 116: 'ZeroCooldown', 118: 'ScaleToZero' },
  },
  {
    name: 'a burst after zero wakes at once',
    spec: { ...ZERO_OK, scaleToZeroCooldownSeconds: 15, scaleDownStabilizationSeconds: 10 },
    initial: 0,
    steps: polls(0, 60, 2, (t) => counted(reading(t < 40 ? 0 : 400), t < 40 ? 7 : 407)),
    changes: [
      [0, 0],
      [40, 4],
    ],
    reasons: { 38: 'BelowActivation', 40: 'WakeFromZero' },
  },
  {
    name: 'paused leaves the count alone',
    spec: { paused: true },
    initial: 3,
    steps: polls(0, 30, 5, reading(5000)),
    changes: [[0, 3]],
    reasons: { 0: 'Paused' },
  },
  {
    name: 'autoscaling disabled runs spec.replicas',
    spec: { enabled: false, replicas: 6 },
    initial: 3,
    steps: polls(0, 30, 5, reading(0)),
    changes: [[0, 6]],
    reasons: { 0: 'ManualReplicas' },
  },
];

describe('decide: scenarios on simulated time', () => {
  it.each(scenarios)('$name', (row) => {
    const timeline = simulate({
      spec: { ...BASE, ...row.spec },
      initialReplicas: row.initial,
      steps: row.steps,
    });
    expect(replicaChanges(timeline)).toEqual(row.changes);
    for (const [at, reason] of Object.entries(row.reasons ?? {})) {
      const point = timeline.find((p) => p.at === Number(at));
      expect({ at: Number(at), reason: point?.reason }).toEqual({ at: Number(at), reason });
    }
  });
});

describe('decide: one call', () => {
  const metrics = { currentReplicas: 2, ...reading(300, 50) };

  it('explains itself with the numbers', () => {
    const d = decide(metrics, EMPTY_HISTORY, BASE, 0);
    expect(d).toMatchObject({
      desiredReplicas: 4,
      reason: 'ScaleUp',
      backlog: 350,
      recommendation: 4,
    });
    expect(d.message).toBe(
      'scaling 2 → 4: backlog 350 (lag 300 xinfo + pending 50) / 100 per replica → 4',
    );
  });

  it('leaves the given history untouched', () => {
    const before = decide(metrics, EMPTY_HISTORY, BASE, 0).history;
    const snapshot = structuredClone(before);
    const after = decide({ ...metrics, currentReplicas: 4 }, before, BASE, 5000).history;
    expect(before).toEqual(snapshot);
    expect(after.recommendations).toHaveLength(2);
    expect(Object.isFrozen(after.recommendations)).toBe(true);
  });

  it('says when Redis cannot be read', () => {
    const d = decide({ ...UNREADABLE, currentReplicas: 3 }, EMPTY_HISTORY, BASE, 0);
    expect(d).toMatchObject({
      desiredReplicas: 3,
      reason: 'HoldRedisUnavailable',
      backlog: undefined,
    });
    expect(d.message).toBe('Redis unreadable; holding 3 replicas');
  });

  it('survives nonsense numbers', () => {
    const d = decide(
      {
        currentReplicas: Number.NaN,
        lag: -5,
        pending: Number.POSITIVE_INFINITY,
        lagSource: 'xinfo',
        readOk: true,
      },
      EMPTY_HISTORY,
      { ...BASE, targetBacklogPerReplica: 0, minReplicas: 3, maxReplicas: 1 },
      0,
    );
    expect(d.desiredReplicas).toBe(3);
  });
});

// ---- properties -------------------------------------------------------------

const specArb = fc
  .record({
    minReplicas: fc.integer({ min: 0, max: 3 }),
    extra: fc.integer({ min: 0, max: 9 }),
    targetBacklogPerReplica: fc.integer({ min: 1, max: 200 }),
    activationBacklog: fc.integer({ min: 1, max: 20 }),
    pollIntervalSeconds: fc.integer({ min: 1, max: 10 }),
    scaleDownStabilizationSeconds: fc.integer({ min: 0, max: 300 }),
    scaleToZeroCooldownSeconds: fc.integer({ min: 0, max: 600 }),
    tolerance: fc.double({ min: 0, max: 0.3, noNaN: true }),
  })
  .map(({ extra, ...s }): ScalerSpec => ({ ...s, maxReplicas: s.minReplicas + extra }));

const optionalRate = fc.option(fc.double({ min: 0, max: 50, noNaN: true }), { nil: undefined });

const metricsArb: fc.Arbitrary<StepMetrics> = fc
  .tuple(
    fc.oneof(
      {
        weight: 4,
        arbitrary: fc.tuple(
          fc.nat(3000),
          fc.nat(300),
          fc.constantFrom('xinfo', 'estimated' as const),
        ),
      },
      { weight: 3, arbitrary: fc.constant([0, 0, 'xinfo'] as const) },
      { weight: 1, arbitrary: fc.option(fc.nat(300), { nil: undefined }) },
      { weight: 1, arbitrary: fc.constant('unreadable' as const) },
    ),
    optionalRate,
    optionalRate,
  )
  .map(([kind, arrivalRate, processingRatePerReplica]): StepMetrics => {
    const base =
      kind === 'unreadable'
        ? UNREADABLE
        : Array.isArray(kind)
          ? reading(kind[0], kind[1], kind[2])
          : unknownLag(kind as number | undefined);
    return { ...base, arrivalRate, processingRatePerReplica };
  });

/** Runs of polls that read the same thing, so sustained states (cooldowns, windows) occur. */
const stepsArb = fc
  .array(fc.tuple(metricsArb, fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 20 })), {
    minLength: 1,
    maxLength: 12,
  })
  .map((segments) => {
    let at = 0;
    return segments.flatMap(([metrics, length, every]) =>
      Array.from({ length }, (): ScenarioStep => {
        at += every;
        return { at, metrics };
      }),
    );
  });

function knownBacklog(m: StepMetrics): number | undefined {
  return m.readOk && m.lagSource !== 'unknown' && m.lag !== undefined && m.pending !== undefined
    ? m.lag + m.pending
    : undefined;
}

/** Index of the first step of the unbroken run (no gap over the stale limit) ending at `i` where `keep` holds. */
function runStart(
  steps: ScenarioStep[],
  i: number,
  staleS: number,
  keep: (s: ScenarioStep) => boolean,
): number {
  let j = i;
  while (j > 0 && keep(steps[j - 1]!) && steps[j]!.at - steps[j - 1]!.at <= staleS) j--;
  return j;
}

describe('decide: properties', () => {
  it('stays in bounds, waits out the window, and never goes to zero on an unknown lag', () => {
    fc.assert(
      fc.property(specArb, fc.integer({ min: 0, max: 15 }), stepsArb, (spec, initial, steps) => {
        const timeline = simulate({ spec, initialReplicas: initial, steps });
        const target = spec.targetBacklogPerReplica;
        const tolerance = spec.tolerance ?? 0.1;
        const windowS = spec.scaleDownStabilizationSeconds;
        const staleS = 3 * spec.pollIntervalSeconds;
        timeline.forEach((point, i) => {
          const step = steps[i]!;
          const before = i === 0 ? initial : timeline[i - 1]!.replicas;
          const d = point.replicas;
          // Bounds: [min, max], with 0 only when min is 0.
          expect(Number.isInteger(d)).toBe(true);
          expect(
            d <= spec.maxReplicas && (d >= spec.minReplicas || (d === 0 && spec.minReplicas === 0)),
          ).toBe(true);
          // Zero only after a known zero sustained for the whole cooldown.
          if (d === 0 && before > 0 && spec.maxReplicas > 0) {
            expect(knownBacklog(step.metrics)).toBe(0);
            const start = runStart(steps, i, staleS, (s) => knownBacklog(s.metrics) === 0);
            expect(step.at - steps[start]!.at).toBeGreaterThanOrEqual(
              spec.scaleToZeroCooldownSeconds,
            );
          }
          if (d >= before || before > spec.maxReplicas) return;
          // A scale down needs the whole window observed...
          const start = runStart(steps, i, staleS, (s) => s.metrics.readOk);
          expect(step.at - steps[start]!.at).toBeGreaterThanOrEqual(windowS);
          // ...and goes no lower than what any poll inside the window asked for.
          for (let k = start; k <= i; k++) {
            const s = steps[k]!;
            if (s.at <= step.at - windowS) continue;
            const backlog = knownBacklog(s.metrics);
            const current = k === 0 ? initial : timeline[k - 1]!.replicas;
            const asked =
              backlog === undefined
                ? current
                : Math.ceil(backlog / ((1 + tolerance) * target) - 1e-6);
            const floor = Math.min(
              before,
              Math.max(spec.minReplicas, Math.min(spec.maxReplicas, asked)),
            );
            expect(d).toBeGreaterThanOrEqual(floor);
          }
        });
      }),
      { numRuns: 300 },
    );
  });

  it('never goes to zero while every poll sees new arrivals', () => {
    // A trickle: the counter rises between every two polls while the
    // workers keep the backlog small or at zero.
    const backlogArb = fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, fc.nat(30));
    const trickleArb = fc
      .array(
        fc.tuple(backlogArb, fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 5 })),
        {
          minLength: 1,
          maxLength: 300,
        },
      )
      .map((polls) => {
        let at = 0;
        let added = 0;
        return polls.map(([backlog, every, arrived]): ScenarioStep => {
          at += every;
          added += arrived;
          return { at, metrics: counted(reading(backlog), added) };
        });
      });
    fc.assert(
      fc.property(
        specArb.filter((spec) => spec.maxReplicas > 0),
        fc.integer({ min: 1, max: 15 }),
        trickleArb,
        (spec, initial, steps) => {
          const timeline = simulate({
            spec: { ...spec, minReplicas: 0 },
            initialReplicas: initial,
            steps,
          });
          expect(timeline.filter((point) => point.replicas === 0)).toEqual([]);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('is deterministic and does not mutate its inputs', () => {
    fc.assert(
      fc.property(specArb, stepsArb, (spec, steps) => {
        const frozen = structuredClone(steps);
        const first = simulate({ spec, initialReplicas: 1, steps });
        expect(simulate({ spec, initialReplicas: 1, steps })).toEqual(first);
        expect(steps).toEqual(frozen);
      }),
      { numRuns: 100 },
    );
  });
});
