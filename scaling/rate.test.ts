import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addSample, type CounterSample, estimateRate, ratePerSecond } from './rate.js';

const WINDOW = 60_000;

function feed(points: Array<[number, number]>, windowMs = WINDOW): readonly CounterSample[] {
  return points.reduce<readonly CounterSample[]>(
    (samples, [at, value]) => addSample(samples, { at, value }, windowMs),
    [],
  );
}

describe('arrival rate', () => {
  it('is unknown until two samples span some time', () => {
    expect(ratePerSecond([])).toBeUndefined();
    expect(ratePerSecond(feed([[0, 10]]))).toBeUndefined();
    expect(
      ratePerSecond(
        feed([
          [0, 10],
          [0, 12],
        ]),
      ),
    ).toBeUndefined();
  });

  it('is the counter increase per second', () => {
    expect(
      ratePerSecond(
        feed([
          [0, 100],
          [5000, 150],
          [10_000, 200],
        ]),
      ),
    ).toBe(10);
  });

  it('forgets samples older than the window but keeps one to span it', () => {
    const samples = feed([
      [0, 0],
      [30_000, 3000],
      [60_000, 3000],
      [90_000, 3000],
      [120_000, 3000],
    ]);
    expect(samples.map((s) => s.at)).toEqual([60_000, 90_000, 120_000]);
    expect(ratePerSecond(samples)).toBe(0);
    expect(
      feed([
        [0, 0],
        [100_000, 50],
      ]).map((s) => s.at),
    ).toEqual([0, 100_000]);
  });

  it('starts over when the counter goes down (stream recreated, Redis emptied)', () => {
    const samples = feed([
      [0, 500],
      [5000, 600],
      [10_000, 3],
      [15_000, 53],
    ]);
    expect(samples).toEqual([
      { at: 10_000, value: 3 },
      { at: 15_000, value: 53 },
    ]);
    expect(ratePerSecond(samples)).toBe(10);
  });

  it('ignores out-of-order and non-finite samples; a same-time sample replaces the last', () => {
    const base = feed([
      [0, 0],
      [10_000, 100],
    ]);
    expect(addSample(base, { at: 5000, value: 50 }, WINDOW)).toBe(base);
    expect(addSample(base, { at: 20_000, value: Number.NaN }, WINDOW)).toBe(base);
    expect(addSample(base, { at: 10_000, value: 200 }, WINDOW)).toEqual([
      { at: 0, value: 0 },
      { at: 10_000, value: 200 },
    ]);
  });

  it('keeps the samples when a reading fails', () => {
    const first = estimateRate([], 0, 0, WINDOW);
    const second = estimateRate(first.samples, 5000, 25, WINDOW);
    const failed = estimateRate(second.samples, 10_000, undefined, WINDOW);
    expect(second.rate).toBe(5);
    expect(failed).toEqual({ samples: second.samples, rate: 5 });
  });

  it('is never negative and never mutates its input', () => {
    const sample = fc.record({ dt: fc.integer({ min: 0, max: 20_000 }), value: fc.nat(1_000_000) });
    fc.assert(
      fc.property(fc.array(sample, { maxLength: 50 }), (raw) => {
        let at = 0;
        let samples: readonly CounterSample[] = [];
        for (const { dt, value } of raw) {
          at += dt;
          const before = structuredClone(samples);
          const next = addSample(samples, { at, value }, WINDOW);
          expect(samples).toEqual(before);
          samples = next;
          expect(ratePerSecond(samples) ?? 0).toBeGreaterThanOrEqual(0);
        }
      }),
    );
  });
});
