import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../test/support/leader-doubles.js';
import {
  expiresAt,
  formatMicroTime,
  heldByOther,
  holderRecord,
  observe,
  planAttempt,
  releasedRecord,
  sameRecord,
} from './lease-rules.js';
import type { LeaseRecord, StoredLease } from './types.js';

const MICRO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

function lease(resourceVersion: string, record: Partial<LeaseRecord>): StoredLease {
  return {
    resourceVersion,
    record: {
      holderIdentity: 'a',
      leaseDurationSeconds: 2,
      acquireTime: '2030-01-01T12:00:00.000000Z',
      renewTime: '2030-01-01T12:00:00.000000Z',
      leaseTransitions: 0,
      ...record,
    },
  };
}

describe('formatMicroTime', () => {
  it('writes RFC 3339 in UTC with six fractional digits', () => {
    expect(formatMicroTime(new Date(Date.UTC(2030, 0, 2, 3, 4, 5, 67)))).toBe(
      '2030-01-02T03:04:05.067000Z',
    );
    expect(formatMicroTime(new Date(0))).toMatch(MICRO_TIME);
    expect(Date.parse(formatMicroTime(new Date(1234567890123)))).toBe(1234567890123);
  });
});

describe('observe: expiry is measured from when the record was seen to change', () => {
  it('starts the clock at the first sight, whatever renewTime says', () => {
    const clock = new FakeClock();
    // A renewTime an hour in the past (a holder with a wrong clock) is still a live claim when first seen.
    const first = observe(undefined, lease('1', { renewTime: '2000-01-01T00:00:00.000000Z' }), 500);
    expect(first.observedAt).toBe(500);
    expect(expiresAt(first)).toBe(2500);
    expect(heldByOther(first, 'b', clock.now() + 500)).toBe(true);
  });

  it('keeps the clock while the record stays the same, even if the resourceVersion moved', () => {
    const first = observe(undefined, lease('1', {}), 0);
    const again = observe(first, lease('2', {}), 1500);
    expect(again.observedAt).toBe(0);
    expect(again.lease.resourceVersion).toBe('2');
  });

  it('restarts the clock when the holder renews', () => {
    const first = observe(undefined, lease('1', {}), 0);
    const renewed = observe(first, lease('2', { renewTime: '2030-01-01T12:00:01.000000Z' }), 1900);
    expect(renewed.observedAt).toBe(1900);
    expect(expiresAt(renewed)).toBe(3900);
  });

  it('uses the duration the record states', () => {
    const long = observe(undefined, lease('1', { leaseDurationSeconds: 15 }), 100);
    expect(expiresAt(long)).toBe(15_100);
  });

  it('compares every field of the record', () => {
    const base = lease('1', {}).record;
    expect(sameRecord(base, { ...base })).toBe(true);
    for (const change of [
      { holderIdentity: 'b' },
      { leaseDurationSeconds: 3 },
      { acquireTime: 'x' },
      { renewTime: 'y' },
      { leaseTransitions: 1 },
    ]) {
      expect(sameRecord(base, { ...base, ...change })).toBe(false);
    }
    expect(sameRecord({ ...base, renewTime: undefined }, { ...base, renewTime: undefined })).toBe(
      true,
    );
  });
});

describe('heldByOther and planAttempt on a fake clock', () => {
  it('waits while another holder is live and writes from the moment its claim runs out', () => {
    const clock = new FakeClock();
    const seen = observe(undefined, lease('1', { holderIdentity: 'a' }), clock.now());
    const timeline: Array<[number, string]> = [];
    for (const t of [0, 1000, 1999, 2000, 2500]) {
      const plan = planAttempt(seen, 'b', t);
      timeline.push([t, plan.action]);
    }
    expect(timeline).toEqual([
      [0, 'wait'],
      [1000, 'wait'],
      [1999, 'wait'],
      [2000, 'write'],
      [2500, 'write'],
    ]);
    expect(planAttempt(seen, 'b', 0)).toEqual({ action: 'wait', holder: 'a', until: 2000 });
    expect(planAttempt(seen, 'b', 2000)).toEqual({ action: 'write', takeover: true });
  });

  it('creates an absent lease, renews its own at once, takes a released one at once', () => {
    expect(planAttempt(undefined, 'a', 0)).toEqual({ action: 'create' });
    const own = observe(undefined, lease('1', { holderIdentity: 'a' }), 0);
    expect(planAttempt(own, 'a', 0)).toEqual({ action: 'write', takeover: false });
    const released = observe(undefined, lease('1', { holderIdentity: '' }), 0);
    expect(heldByOther(released, 'b', 0)).toBe(false);
    expect(planAttempt(released, 'b', 0)).toEqual({ action: 'write', takeover: true });
  });

  it('treats a lease without a duration as expired', () => {
    const odd = observe(undefined, lease('1', { leaseDurationSeconds: 0 }), 0);
    expect(heldByOther(odd, 'b', 0)).toBe(false);
  });
});

describe('holderRecord and releasedRecord', () => {
  const wall = new Date(Date.UTC(2030, 5, 1, 8, 0, 0, 250));
  const now = '2030-06-01T08:00:00.250000Z';

  it('starts a new Lease at zero transitions', () => {
    expect(holderRecord(undefined, 'a', 2, wall)).toEqual({
      holderIdentity: 'a',
      leaseDurationSeconds: 2,
      acquireTime: now,
      renewTime: now,
      leaseTransitions: 0,
    });
  });

  it('renewal keeps acquireTime and transitions, moves renewTime', () => {
    const previous = lease('1', { holderIdentity: 'a', leaseTransitions: 4 }).record;
    expect(holderRecord(previous, 'a', 2, wall)).toEqual({
      ...previous,
      renewTime: now,
    });
  });

  it('takeover counts a transition and starts a new term', () => {
    const previous = lease('1', { holderIdentity: 'a', leaseTransitions: 4 }).record;
    expect(holderRecord(previous, 'b', 3, wall)).toEqual({
      holderIdentity: 'b',
      leaseDurationSeconds: 3,
      acquireTime: now,
      renewTime: now,
      leaseTransitions: 5,
    });
    const released = releasedRecord(previous, wall);
    expect(holderRecord(released, 'b', 2, wall).leaseTransitions).toBe(5);
  });

  it('release leaves nobody holding it for one second, transitions unchanged', () => {
    const previous = lease('1', { holderIdentity: 'a', leaseTransitions: 4 }).record;
    expect(releasedRecord(previous, wall)).toEqual({
      holderIdentity: '',
      leaseDurationSeconds: 1,
      acquireTime: now,
      renewTime: now,
      leaseTransitions: 4,
    });
  });
});
