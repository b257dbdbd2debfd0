import { describe, expect, it } from 'vitest';
import {
  MIN_OCCUPANCY_SAMPLES,
  MODELLED_SLOTS,
  NO_OCCUPANCY,
  type OccupancyState,
  observeOccupancy,
  occupancyCapacity,
} from './occupancy.js';

const WINDOW_MS = 30_000;
const SPAN_MS = 5_000;

/** Polls once a second: `rate` entries read per second, `pending(i)` in flight at poll i. */
function feed(
  seconds: number,
  rate: number,
  pending: (i: number) => number,
  replicas = 2,
): OccupancyState {
  let state = NO_OCCUPANCY;
  for (let i = 0; i <= seconds; i++) {
    state = observeOccupancy(
      state,
      { at: i * 1000, entriesRead: i * rate, pending: pending(i), replicas },
      WINDOW_MS,
    );
  }
  return state;
}

describe("occupancy capacity (Little's law)", () => {
  it('is concurrency × throughput ÷ mean in-flight', () => {
    // 100/s with 2.5 entries in flight on average: each takes 25 ms, so a
    // replica with 8 slots can do 320/s.
    const state = feed(19, 100, (i) => (i % 2 === 0 ? 2 : 3));
    expect(occupancyCapacity(state, { replicas: 2, concurrency: 8 }, SPAN_MS)).toBeCloseTo(
      (8 * 100) / 2.5,
      0,
    );
  });

  it('counts at most MODELLED_SLOTS slots for a replica of more (batches do not scale with slots)', () => {
    const state = feed(19, 100, (i) => (i % 2 === 0 ? 2 : 3));
    const at8 = occupancyCapacity(state, { replicas: 2, concurrency: MODELLED_SLOTS }, SPAN_MS)!;
    expect(occupancyCapacity(state, { replicas: 2, concurrency: 64 }, SPAN_MS)).toBeCloseTo(at8, 5);
    expect(at8).toBeCloseTo((MODELLED_SLOTS * 100) / 2.5, 5);
  });

  it('credits a busy replica of many slots at least what it does', () => {
    // 2 replicas × 64 slots, 100 in flight while reading 80/s: the model's
    // 8 slots would say 6.4/s per replica; each does 40/s.
    const state = feed(20, 80, () => 100);
    expect(occupancyCapacity(state, { replicas: 2, concurrency: 64 }, SPAN_MS)).toBeCloseTo(40, 5);
  });

  it('agrees with the saturated figure when every slot is busy', () => {
    // 2 replicas × 4 slots all busy while reading 80/s: 40/s per replica.
    const state = feed(20, 80, () => 8);
    expect(occupancyCapacity(state, { replicas: 2, concurrency: 4 }, SPAN_MS)).toBeCloseTo(40, 5);
  });

  it('bounds an idle-looking pool by the rule of three, never below what each replica did', () => {
    const state = feed(20, 12, () => 0);
    const figure = occupancyCapacity(state, { replicas: 2, concurrency: 8 }, SPAN_MS)!;
    // 21 samples at 0: at least 12 · 21 / (3 · 2) per replica.
    expect(figure).toBeCloseTo((12 * 21) / 6, 5);
    expect(figure).toBeGreaterThanOrEqual(12 / 2);
  });

  it('tells nothing before the span, with too few samples, without throughput or concurrency', () => {
    expect(
      occupancyCapacity(
        feed(3, 100, () => 2),
        { replicas: 1, concurrency: 8 },
        SPAN_MS,
      ),
    ).toBe(undefined);
    let sparse = NO_OCCUPANCY;
    for (let i = 0; i < MIN_OCCUPANCY_SAMPLES - 1; i++) {
      sparse = observeOccupancy(
        sparse,
        { at: i * 10_000, entriesRead: i * 500, pending: 1, replicas: 1 },
        WINDOW_MS,
      );
    }
    expect(occupancyCapacity(sparse, { replicas: 1, concurrency: 8 }, SPAN_MS)).toBe(undefined);
    expect(
      occupancyCapacity(
        feed(20, 0, () => 0),
        { replicas: 1, concurrency: 8 },
        SPAN_MS,
      ),
    ).toBe(undefined);
    const busy = feed(20, 100, () => 2);
    expect(occupancyCapacity(busy, { replicas: 1, concurrency: undefined }, SPAN_MS)).toBe(
      undefined,
    );
  });

  it('starts over at zero replicas, when a reading is missing, and when the counter resets', () => {
    const busy = feed(20, 100, () => 2);
    const atZero = observeOccupancy(
      busy,
      { at: 21_000, entriesRead: 2_100, pending: 0, replicas: 0 },
      WINDOW_MS,
    );
    expect(atZero).toEqual(NO_OCCUPANCY);
    const unread = observeOccupancy(
      busy,
      { at: 21_000, entriesRead: undefined, pending: 2, replicas: 1 },
      WINDOW_MS,
    );
    expect(unread).toEqual(NO_OCCUPANCY);
    const reset = observeOccupancy(
      busy,
      { at: 21_000, entriesRead: 5, pending: 2, replicas: 1 },
      WINDOW_MS,
    );
    expect(reset.reads).toHaveLength(1);
    expect(reset.pending).toHaveLength(1);
  });
});
