/**
 * The rate term in a closed loop on simulated time: a stream with steady
 * arrivals, workers of a fixed speed that start a few seconds after being
 * asked for, and the operator's poll (observeRates + decide) sizing them.
 */
import { describe, expect, it } from 'vitest';
import { scalerMetrics, streamCounters } from '../../scaling/autoscaler.js';
import { decide } from '../../scaling/decide.js';
import { EMPTY_HISTORY } from '../../scaling/history.js';
import { NO_RATE_HISTORY, observeRates } from '../../scaling/rates.js';
import type { ScalerSpec } from '../../scaling/types.js';
import type { BacklogKnown } from '../../stream/backlog/types.js';

const POLL_MS = 1_000;
const TICK_MS = 100;
/** Pods become ready this long after the Deployment asks for them. */
const STARTUP_MS = 3_000;

const SPEC: ScalerSpec = {
  minReplicas: 1,
  maxReplicas: 10,
  // So large that the backlog term alone never asks for more than one replica
  // at the backlogs steady traffic leaves.
  targetBacklogPerReplica: 1_000,
  activationBacklog: 1,
  pollIntervalSeconds: POLL_MS / 1000,
  scaleDownStabilizationSeconds: 10,
  scaleToZeroCooldownSeconds: 30,
};

interface Tick {
  at: number;
  replicas: number;
  ready: number;
  lag: number;
  processingRatePerReplica: number | undefined;
  capacitySource: string | undefined;
  reason: string;
}

/**
 * Runs `seconds` of simulated time. `arrivals(t)` is entries per second at
 * second t; each ready replica has one slot and takes `perReplica` (at
 * second t) entries per second, so the group's pending count is the number
 * of busy slots.
 */
function loop(
  seconds: number,
  arrivals: (t: number) => number,
  perReplica: number | ((t: number) => number),
  options: { rateTerm?: boolean; spec?: Partial<ScalerSpec>; initial?: number } = {},
): Tick[] {
  const spec = { ...SPEC, ...options.spec };
  let added = 0;
  let read = 0;
  let replicas = options.initial ?? 1;
  let busy = 0;
  let carry = 0;
  let rates = NO_RATE_HISTORY;
  let history = EMPTY_HISTORY;
  // When each replica beyond the first was asked for, to make it ready STARTUP_MS later.
  const askedAt: number[] = Array.from({ length: replicas }, () => 0);
  const ticks: Tick[] = [];
  for (let at = 0; at < seconds * 1000; at += TICK_MS) {
    const ready = askedAt.filter((asked) => at - asked >= STARTUP_MS || asked === 0).length;
    added += (arrivals(at / 1000) * TICK_MS) / 1000;
    const speed = typeof perReplica === 'function' ? perReplica(at / 1000) : perReplica;
    const room = (ready * speed * TICK_MS) / 1000;
    const taken = Math.min(added - read, room);
    read += taken;
    // Busy slots: the share of the ready replicas' time spent working this
    // tick, a whole number as Redis reports it, the remainder carried over
    // so that the mean over polls is exact.
    const exact = (room > 0 ? (ready * taken) / room : 0) + carry;
    busy = Math.floor(exact);
    carry = exact - busy;
    const pollMs = spec.pollIntervalSeconds * 1000;
    if (at % pollMs !== 0) continue;
    const lag = Math.floor(added) - Math.floor(read);
    const reading: BacklogKnown = {
      readOk: true,
      lag,
      pending: busy,
      backlog: lag + busy,
      lagSource: 'xinfo',
      streamState: 'present',
      entriesAdded: Math.floor(added),
      entriesRead: Math.floor(read),
    };
    const observed = observeRates(
      rates,
      streamCounters(reading),
      { replicas, readyReplicas: ready, concurrency: 1 },
      at,
      pollMs,
    );
    rates = observed.history;
    const used =
      options.rateTerm === false
        ? { arrivalRate: undefined, processingRatePerReplica: undefined, capacitySource: undefined }
        : observed.rates;
    const decision = decide(scalerMetrics(reading, replicas, used), history, spec, at);
    history = decision.history;
    const next = decision.desiredReplicas;
    if (next > replicas) for (let i = replicas; i < next; i++) askedAt.push(at);
    if (next < replicas) askedAt.splice(next);
    replicas = next;
    ticks.push({ at: at / 1000, replicas, ready, lag, ...observed.rates, reason: decision.reason });
  }
  return ticks;
}

const between = (ticks: Tick[], from: number, to: number) =>
  ticks.filter((tick) => tick.at >= from && tick.at < to);

describe('the rate term', () => {
  it('holds a pool at arrival ÷ capacity under steady traffic, keeping the backlog small', () => {
    // 50 entries/s against 20 per replica: 3 replicas keep up, 2 do not.
    const ticks = loop(300, () => 50, 20);
    const settled = between(ticks, 60, 300);
    expect(new Set(settled.map((tick) => tick.replicas))).toEqual(new Set([3]));
    expect(Math.max(...settled.map((tick) => tick.lag))).toBeLessThan(100);
    expect(ticks.at(-1)?.processingRatePerReplica).toBeCloseTo(20, 0);
  });

  it('without it, the same traffic piles up a backlog and the pool swings', () => {
    const ticks = loop(300, () => 50, 20, { rateTerm: false });
    const settled = between(ticks, 60, 300);
    expect(Math.max(...settled.map((tick) => tick.lag))).toBeGreaterThan(1_000);
    expect(new Set(settled.map((tick) => tick.replicas)).size).toBeGreaterThan(1);
  });

  it('lets the pool shrink soon after the traffic stops', () => {
    const ticks = loop(200, (t) => (t < 120 ? 50 : 0), 20);
    expect(between(ticks, 100, 120).every((tick) => tick.replicas === 3)).toBe(true);
    // Arrival window (10 s) + stabilization window (10 s) + a few polls.
    const shrunk = ticks.find((tick) => tick.at >= 120 && tick.replicas === 1);
    expect(shrunk?.at).toBeLessThanOrEqual(145);
  });

  it('drops a capacity figure after ten minutes and measures it again', () => {
    const ticks = loop(900, () => 50, 20);
    // The figure taken in the first minute expires; the pool dips, saturates, and is re-measured.
    const late = between(ticks, 840, 900);
    expect(late.every((tick) => tick.processingRatePerReplica !== undefined)).toBe(true);
    expect(late.at(-1)?.replicas).toBe(3);
  });

  it('is not fooled by workers that stall with work waiting', () => {
    // Workers stop after 60 s (say the database is down). The figure measured
    // before must stand: a shrinking one would make the rate term ask for ever
    // more workers that cannot work either.
    // One replica at most, so the figure is measured while saturated.
    const ticks = loop(
      120,
      (t) => (t < 60 ? 50 : 0),
      (t) => (t < 60 ? 20 : 0),
      { spec: { maxReplicas: 1 } },
    );
    const figures = between(ticks, 62, 120).map((tick) => tick.processingRatePerReplica);
    expect(figures.every((figure) => figure !== undefined && Math.abs(figure - 20) < 1)).toBe(true);
  });

  describe('a pool allowed to reach zero (min 0, max 4, target 10, poll 2 s, window 10 s, cooldown 15 s)', () => {
    const ZERO: Partial<ScalerSpec> = {
      minReplicas: 0,
      maxReplicas: 4,
      targetBacklogPerReplica: 10,
      pollIntervalSeconds: 2,
      scaleDownStabilizationSeconds: 10,
      scaleToZeroCooldownSeconds: 15,
    };
    // A burst of 1,600 events in the first 2 s, a trickle of 12/s until 120 s,
    // then nothing; each replica handles 200/s.
    const traffic = (t: number) => (t < 2 ? 800 : t < 120 ? 12 : 0);

    it('never goes to zero while a trickle arrives, and goes after the cooldown once it stops', () => {
      const ticks = loop(200, traffic, 200, { spec: ZERO, initial: 0 });
      const trickle = between(ticks, 2, 120);
      expect(trickle.filter((tick) => tick.replicas === 0)).toEqual([]);
      const zero = ticks.find((tick) => tick.at >= 120 && tick.replicas === 0);
      expect(zero?.reason).toBe('ScaleToZero');
      // Not before the cooldown has passed without arrivals.
      expect(zero!.at).toBeGreaterThanOrEqual(120 + 15);
    });

    it('wakes from zero at the first poll that sees a burst', () => {
      const ticks = loop(260, (t) => (t < 2 ? 800 : t >= 230.5 && t < 232 ? 800 : 0), 200, {
        spec: ZERO,
        initial: 0,
      });
      expect(between(ticks, 200, 230.5).every((tick) => tick.replicas === 0)).toBe(true);
      // The first poll after the burst starts (polls fall on even seconds).
      const first = ticks.find((tick) => tick.at > 230.5);
      expect(first).toMatchObject({ at: 232, reason: 'WakeFromZero' });
      expect(first!.replicas).toBeGreaterThan(0);
    });
  });
});
