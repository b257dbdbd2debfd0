import type { LeaseRecord, StoredLease } from './types.js';

/**
 * The pure rules of leader election, kept apart from timers and I/O so they
 * can be tested on a fake clock. Times here are the elector's monotonic
 * milliseconds (Clock.now()); wall-clock strings only go into the record.
 */

/**
 * What a candidate last saw of the Lease, and when it saw the record change.
 * Expiry is judged from `observedAt` on the local clock, never from the
 * record's renewTime: another machine's clock may be wrong.
 */
export interface LeaseObservation {
  lease: StoredLease;
  /** Local time when the record was first seen as it is now. */
  observedAt: number;
}

/** Formats a wall-clock time as a Kubernetes MicroTime (RFC 3339, six fractional digits, UTC). */
export function formatMicroTime(date: Date): string {
  // toISOString gives milliseconds, `...:05.123Z`; MicroTime wants `...:05.123000Z`.
  return `${date.toISOString().slice(0, -1)}000Z`;
}

/** True when both records say the same thing (what a renewal changes, renewTime at least). */
export function sameRecord(a: LeaseRecord, b: LeaseRecord): boolean {
  return (
    a.holderIdentity === b.holderIdentity &&
    a.leaseDurationSeconds === b.leaseDurationSeconds &&
    (a.acquireTime ?? '') === (b.acquireTime ?? '') &&
    (a.renewTime ?? '') === (b.renewTime ?? '') &&
    a.leaseTransitions === b.leaseTransitions
  );
}

/**
 * Folds a fresh reading into what was seen before: the clock restarts only
 * when the record changed. A holder that keeps renewing therefore keeps
 * pushing its expiry out; one that went silent expires a lease duration
 * after its last change was seen here.
 */
export function observe(
  previous: LeaseObservation | undefined,
  lease: StoredLease,
  now: number,
): LeaseObservation {
  if (previous !== undefined && sameRecord(previous.lease.record, lease.record)) {
    return { lease, observedAt: previous.observedAt };
  }
  return { lease, observedAt: now };
}

/** Local time at which the observed holder's claim runs out. */
export function expiresAt(observation: LeaseObservation): number {
  return observation.observedAt + observation.lease.record.leaseDurationSeconds * 1000;
}

/** True when someone other than `identity` holds the lease and their claim has not run out. */
export function heldByOther(observation: LeaseObservation, identity: string, now: number): boolean {
  const holder = observation.lease.record.holderIdentity;
  return holder !== '' && holder !== identity && now < expiresAt(observation);
}

export type AttemptPlan =
  /** No Lease yet: create it. */
  | { action: 'create' }
  /** Someone else holds it and their claim is live: do nothing until `until`. */
  | { action: 'wait'; holder: string; until: number }
  /** Write the lease as ours: a renewal, or a takeover when `takeover` (transitions + 1). */
  | { action: 'write'; takeover: boolean };

/** What a candidate or leader should do given what it last saw. */
export function planAttempt(
  observation: LeaseObservation | undefined,
  identity: string,
  now: number,
): AttemptPlan {
  if (observation === undefined) return { action: 'create' };
  if (heldByOther(observation, identity, now)) {
    return {
      action: 'wait',
      holder: observation.lease.record.holderIdentity,
      until: expiresAt(observation),
    };
  }
  return { action: 'write', takeover: observation.lease.record.holderIdentity !== identity };
}

/**
 * The record to write to hold the lease. Renewing our own lease keeps its
 * acquireTime and transition count; taking it over from anyone else
 * (including from nobody after a release) starts a new term and counts one
 * more transition. A brand-new Lease starts at zero transitions.
 */
export function holderRecord(
  previous: LeaseRecord | undefined,
  identity: string,
  leaseDurationSeconds: number,
  wallNow: Date,
): LeaseRecord {
  const now = formatMicroTime(wallNow);
  if (previous === undefined) {
    return {
      holderIdentity: identity,
      leaseDurationSeconds,
      acquireTime: now,
      renewTime: now,
      leaseTransitions: 0,
    };
  }
  const renewing = previous.holderIdentity === identity;
  return {
    holderIdentity: identity,
    leaseDurationSeconds,
    acquireTime: renewing ? (previous.acquireTime ?? now) : now,
    renewTime: now,
    leaseTransitions: renewing ? previous.leaseTransitions : previous.leaseTransitions + 1,
  };
}

/**
 * The record a leader writes when it gives the lease up: nobody holds it and
 * it lasts one second, so a candidate takes over at its next attempt instead
 * of waiting out the lease duration.
 */
export function releasedRecord(previous: LeaseRecord, wallNow: Date): LeaseRecord {
  const now = formatMicroTime(wallNow);
  return {
    holderIdentity: '',
    leaseDurationSeconds: 1,
    acquireTime: now,
    renewTime: now,
    leaseTransitions: previous.leaseTransitions,
  };
}
