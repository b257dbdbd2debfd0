import { describe, expect, it } from 'vitest';
import {
  FakeClock,
  type MemoryLeaseClient,
  MemoryLeaseStore,
} from '../../test/support/leader-doubles.js';
import { LeaderElector, type LeaderElectorOptions, LeadershipEndedError } from './elector.js';
import type { LeaseRecord } from './types.js';

/**
 * The elector on a fake clock and an in-memory Lease: exact timings of
 * acquisition, renewal, expiry, renew deadline and release. The same
 * scenarios run against a real kube-apiserver in elector.apiserver.test.ts.
 */

const LEASE_MS = 2000;
const RENEW_DEADLINE_MS = 1500;
const RETRY_MS = 250;
const MICRO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

interface Replica {
  elector: LeaderElector;
  client: MemoryLeaseClient;
  events: string[];
  signals: AbortSignal[];
}

function world() {
  const clock = new FakeClock();
  const store = new MemoryLeaseStore();
  const all: Replica[] = [];

  function make(identity: string, extra: Partial<LeaderElectorOptions> = {}): Replica {
    const client = store.client();
    const events: string[] = [];
    const signals: AbortSignal[] = [];
    const elector = new LeaderElector({
      namespace: 'test',
      name: 'lease',
      identity,
      leaseDurationMs: LEASE_MS,
      renewDeadlineMs: RENEW_DEADLINE_MS,
      retryPeriodMs: RETRY_MS,
      retryJitter: 0,
      clock,
      leaseClient: client,
      ...extra,
    });
    elector
      .onStartedLeading((signal) => {
        signals.push(signal);
        events.push('started');
      })
      .onStoppedLeading(() => {
        events.push('stopped');
      });
    const replica = { elector, client, events, signals };
    all.push(replica);
    return replica;
  }

  /** Fails the test the moment two electors both say they lead. */
  function sample(): void {
    const leaders = all.filter((replica) => replica.elector.isLeader());
    expect(leaders.map((replica) => replica.elector.identity).length).toBeLessThanOrEqual(1);
  }

  /** Advances in small steps, checking for two leaders at every step. */
  function until(done: () => boolean, limitMs = 30_000): Promise<number> {
    return clock.advanceUntil(done, { stepMs: 10, limitMs, sample });
  }

  async function run(ms: number): Promise<void> {
    for (let spent = 0; spent < ms; spent += 10) {
      await clock.advance(10);
      sample();
    }
  }

  /** Time of the last write to the Lease whose holder was `identity`. */
  const lastWriteBy = new Map<string, number>();
  let seenWrites = 0;
  function trackWrites(): void {
    for (; seenWrites < store.writes.length; seenWrites++) {
      const record = store.writes[seenWrites]!;
      lastWriteBy.set(record.holderIdentity, clock.now());
    }
  }

  /** Stops electors, moving fake time on while they wait for calls to time out. */
  async function stopAll(...electors: LeaderElector[]): Promise<void> {
    let done = false;
    const stopping = Promise.all(electors.map((elector) => elector.stop())).then(() => {
      done = true;
    });
    await clock.advanceUntil(() => done, { stepMs: 50, limitMs: 10_000 });
    await stopping;
  }

  return { clock, store, make, sample, until, run, lastWriteBy, trackWrites, stopAll };
}

describe('LeaderElector on a fake clock', () => {
  it('with createLease false, takes a Lease created empty for it, and never brings a deleted one back', async () => {
    const { clock, store, make, until, run } = world();
    // What the chart creates: a Lease with an empty spec.
    store.put({ holderIdentity: '', leaseDurationSeconds: 0, leaseTransitions: 0 });
    const a = make('a', { createLease: false });
    a.elector.start();
    await until(() => a.elector.isLeader());
    expect(store.lease?.record.holderIdentity).toBe('a');

    // Uninstall deletes it: the leader steps down within the renew deadline and does not create it.
    store.delete();
    await until(() => !a.elector.isLeader(), RENEW_DEADLINE_MS + RETRY_MS * 2);
    await run(LEASE_MS * 3);
    expect(store.lease).toBeUndefined();
    expect(a.client.calls.create).toBe(0);
    expect(a.elector.isLeader()).toBe(false);
    const stopping = a.elector.stop();
    await clock.advanceUntil(() => a.elector.state === 'stopped', { stepMs: 50, limitMs: 10_000 });
    await stopping;
    expect(store.lease).toBeUndefined();
  });

  it('with createLease false, waits for a missing Lease instead of creating it', async () => {
    const { store, make, run, until } = world();
    const a = make('a', { createLease: false });
    a.elector.start();
    await run(LEASE_MS * 2);
    expect(a.elector.isLeader()).toBe(false);
    expect(a.client.calls.create).toBe(0);
    expect(store.lease).toBeUndefined();
    store.put({ holderIdentity: '', leaseDurationSeconds: 0, leaseTransitions: 0 });
    await until(() => a.elector.isLeader());
    await a.elector.stop();
  });

  it('creates an absent Lease, leads, and renews it every retry period without re-reading', async () => {
    const { clock, store, make, run } = world();
    const a = make('a');
    expect(a.elector.state).toBe('idle');
    a.elector.start();
    expect(a.elector.state).toBe('candidate');
    await clock.advance(0);
    expect(a.elector.state).toBe('leading');
    expect(a.elector.isLeader()).toBe(true);
    expect(a.events).toEqual(['started']);
    expect(a.signals[0]?.aborted).toBe(false);
    const created = store.lease!.record;
    expect(created).toMatchObject({ holderIdentity: 'a', leaseDurationSeconds: 2 });
    expect(created.leaseTransitions).toBe(0);
    expect(created.acquireTime).toMatch(MICRO_TIME);
    expect(created.renewTime).toBe(created.acquireTime);

    await run(1000);
    expect(store.writes).toHaveLength(1 + 1000 / RETRY_MS);
    const renewed = store.lease!.record;
    expect(renewed.acquireTime).toBe(created.acquireTime);
    expect(renewed.leaseTransitions).toBe(0);
    expect(Date.parse(renewed.renewTime!) - Date.parse(created.renewTime!)).toBe(1000);
    // One read to start with; renewals write over the last written version.
    expect(a.client.calls.get).toBe(1);
    await a.elector.stop();
  });

  it('keeps a second replica passive while the leader renews', async () => {
    const { clock, make, run } = world();
    const a = make('a');
    const b = make('b');
    a.elector.start();
    await clock.advance(0);
    b.elector.start();
    await run(10_000);
    expect(a.elector.isLeader()).toBe(true);
    expect(b.elector.state).toBe('candidate');
    expect(b.elector.isLeader()).toBe(false);
    expect(b.elector.leaderIdentity()).toBe('a');
    expect(b.events).toEqual([]);
    await Promise.all([a.elector.stop(), b.elector.stop()]);
  });

  it('hands over within one retry period when the leader stops and releases', async () => {
    const { clock, store, make, run, until } = world();
    const a = make('a');
    const b = make('b');
    a.elector.start();
    await clock.advance(0);
    b.elector.start();
    await run(1000);

    const stopping = a.elector.stop();
    expect(a.elector.state).toBe('stopped');
    expect(a.elector.isLeader()).toBe(false);
    expect(a.signals[0]?.aborted).toBe(true);
    expect(a.signals[0]?.reason).toBeInstanceOf(LeadershipEndedError);
    await clock.advance(0);
    await stopping;
    expect(a.events).toEqual(['started', 'stopped']);
    expect(store.lease!.record).toMatchObject({ holderIdentity: '', leaseDurationSeconds: 1 });

    const took = await until(() => b.elector.isLeader());
    expect(took).toBeLessThanOrEqual(RETRY_MS);
    expect(store.lease!.record).toMatchObject({ holderIdentity: 'b', leaseTransitions: 1 });
    await b.elector.stop();
  });

  it('takes over from a frozen leader only once the lease duration has passed since its last renewal', async () => {
    const { clock, make, run, lastWriteBy, trackWrites, sample, stopAll } = world();
    const a = make('a');
    const b = make('b');
    a.elector.start();
    await clock.advance(0);
    b.elector.start();
    await run(1000);
    trackWrites();

    // a stops being heard from: every call it makes hangs.
    a.client.mode = 'hang';
    const took = await clock.advanceUntil(() => b.elector.isLeader(), {
      stepMs: 10,
      sample: () => {
        trackWrites();
        sample();
      },
    });
    const lastRenewal = lastWriteBy.get('a')!;
    const takeover = clock.now();
    expect(took).toBeGreaterThan(0);
    expect(takeover).toBeGreaterThanOrEqual(lastRenewal + LEASE_MS);
    expect(takeover).toBeLessThanOrEqual(lastRenewal + LEASE_MS + RETRY_MS + 10);
    // a had already stopped, at its renew deadline.
    expect(a.elector.state).toBe('candidate');
    expect(a.events).toEqual(['started', 'stopped']);
    await stopAll(a.elector, b.elector);
  });

  it.each(['fail', 'hang'] as const)(
    'steps down exactly at the renew deadline when its calls %s',
    async (mode) => {
      const { clock, make, trackWrites, lastWriteBy, stopAll } = world();
      const a = make('a');
      a.elector.start();
      await clock.advance(0);
      await clock.advance(500);
      trackWrites();
      const lastRenewal = lastWriteBy.get('a')!;
      a.client.mode = mode;

      await clock.advanceUntil(() => clock.now() >= lastRenewal + RENEW_DEADLINE_MS - 10, {
        stepMs: 10,
      });
      expect(a.elector.isLeader()).toBe(true);
      expect(a.signals[0]?.aborted).toBe(false);
      await clock.advance(10);
      expect(a.elector.isLeader()).toBe(false);
      expect(a.elector.state).toBe('candidate');
      expect(a.signals[0]?.aborted).toBe(true);
      expect(String(a.signals[0]?.reason)).toMatch(/could not renew the lease for 1500 ms/);
      expect(a.events).toEqual(['started', 'stopped']);
      await stopAll(a.elector);
    },
  );

  it('steps down at its next renewal when someone else has taken the Lease', async () => {
    const { clock, store, make, until } = world();
    const a = make('a');
    a.elector.start();
    await clock.advance(0);
    const current = store.lease!.record;
    store.put({ ...current, holderIdentity: 'intruder', leaseTransitions: 1 });
    const took = await until(() => !a.elector.isLeader());
    expect(took).toBeLessThanOrEqual(RETRY_MS);
    expect(a.events).toEqual(['started', 'stopped']);
    expect(String(a.signals[0]?.reason)).toMatch(/taken by intruder/);
    // It does not write over the intruder; it waits for that claim to run out.
    expect(store.lease!.record.holderIdentity).toBe('intruder');
    expect(a.elector.leaderIdentity()).toBe('intruder');
    await a.elector.stop();
    expect(store.lease!.record.holderIdentity).toBe('intruder');
  });

  it('campaigns again after losing, and leads a new term with a fresh signal', async () => {
    const { clock, store, make, until } = world();
    const a = make('a');
    a.elector.start();
    await clock.advance(0);
    a.client.mode = 'fail';
    await until(() => a.elector.state === 'candidate');
    a.client.mode = 'ok';
    await until(() => a.elector.isLeader(), RETRY_MS + 10);
    expect(a.events).toEqual(['started', 'stopped', 'started']);
    expect(a.signals.map((signal) => signal.aborted)).toEqual([true, false]);
    // Still its own lease: no transition counted.
    expect(store.lease!.record).toMatchObject({ holderIdentity: 'a', leaseTransitions: 0 });
    await a.elector.stop();
  });

  it('does not start a new term while the last term’s work is still running', async () => {
    const { clock, store, until } = world();
    const client = store.client();
    let finish: () => void = () => {};
    let terms = 0;
    const a = new LeaderElector({
      namespace: 'test',
      name: 'lease',
      identity: 'a',
      leaseDurationMs: LEASE_MS,
      renewDeadlineMs: RENEW_DEADLINE_MS,
      retryPeriodMs: RETRY_MS,
      retryJitter: 0,
      clock,
      leaseClient: client,
    }).onStartedLeading(() => {
      terms += 1;
      return new Promise<void>((resolve) => {
        finish = resolve;
      });
    });
    a.start();
    await clock.advance(0);
    client.mode = 'fail';
    await until(() => a.state === 'candidate');
    client.mode = 'ok';
    await clock.advance(5 * LEASE_MS);
    expect(a.state).toBe('candidate');
    expect(terms).toBe(1);
    finish();
    await until(() => a.isLeader(), RETRY_MS + 10);
    expect(terms).toBe(2);
    finish();
    await a.stop();
  });

  it('honours a claim for a full lease duration from first sight, whatever its renewTime says', async () => {
    const { clock, store, make, until } = world();
    store.put({
      holderIdentity: 'ghost',
      leaseDurationSeconds: 2,
      acquireTime: '2000-01-01T00:00:00.000000Z',
      renewTime: '2000-01-01T00:00:00.000000Z',
      leaseTransitions: 3,
    });
    const b = make('b');
    b.elector.start();
    const took = await until(() => b.elector.isLeader());
    expect(took).toBeGreaterThanOrEqual(LEASE_MS);
    expect(took).toBeLessThanOrEqual(LEASE_MS + RETRY_MS);
    expect(store.lease!.record).toMatchObject({ holderIdentity: 'b', leaseTransitions: 4 });
    expect(clock.now()).toBe(took);
    await b.elector.stop();
  });

  it('lets exactly one of two candidates win an absent Lease', async () => {
    const { clock, store, make, run } = world();
    const a = make('a');
    const b = make('b');
    a.elector.start();
    b.elector.start();
    await clock.advance(0);
    await run(3000);
    const leaders = [a, b].filter((replica) => replica.elector.isLeader());
    expect(leaders).toHaveLength(1);
    expect(store.lease!.record.holderIdentity).toBe(leaders[0]!.elector.identity);
    await Promise.all([a.elector.stop(), b.elector.stop()]);
  });

  it('reports no leadership once the renew deadline has passed, even when its timers run late', async () => {
    const { clock, make } = world();
    const a = make('a');
    a.elector.start();
    await clock.advance(0);
    clock.jump(RENEW_DEADLINE_MS - 1);
    expect(a.elector.isLeader()).toBe(true);
    clock.jump(1);
    expect(a.elector.state).toBe('leading');
    expect(a.elector.isLeader()).toBe(false);
    await a.elector.stop();
  });

  it('gives the Lease up when the leading work fails, then campaigns again', async () => {
    const { clock, store, make, until } = world();
    let terms = 0;
    const a = make('a');
    const failing = new LeaderElector({
      namespace: 'test',
      name: 'lease',
      identity: 'f',
      leaseDurationMs: LEASE_MS,
      renewDeadlineMs: RENEW_DEADLINE_MS,
      retryPeriodMs: RETRY_MS,
      retryJitter: 0,
      clock,
      leaseClient: store.client(),
    });
    const stopped: string[] = [];
    failing
      .onStartedLeading(async () => {
        terms += 1;
        if (terms === 1) throw new Error('controller crashed');
      })
      .onStoppedLeading(() => {
        stopped.push('stopped');
      });
    failing.start();
    await clock.advance(0);
    expect(stopped).toEqual(['stopped']);
    expect(store.writes.map((record: LeaseRecord) => record.holderIdentity)).toEqual(['f', '']);
    // The released Lease is free for anyone: a takes it at its first try.
    a.elector.start();
    await until(() => a.elector.isLeader() || failing.isLeader());
    await Promise.all([a.elector.stop(), failing.stop()]);
  });

  it('stop() waits for the work to finish before releasing', async () => {
    const { clock, store } = world();
    let finished = false;
    const slow = new LeaderElector({
      namespace: 'test',
      name: 'lease',
      identity: 's',
      leaseDurationMs: LEASE_MS,
      renewDeadlineMs: RENEW_DEADLINE_MS,
      retryPeriodMs: RETRY_MS,
      clock,
      leaseClient: store.client(),
    }).onStartedLeading(
      (signal) =>
        new Promise<void>((resolve) => {
          signal.addEventListener('abort', () => {
            void clock.sleep(300).then(() => {
              finished = true;
              resolve();
            });
          });
        }),
    );
    slow.start();
    await clock.advance(0);
    let stopped = false;
    void slow.stop().then(() => {
      stopped = true;
    });
    await clock.advance(290);
    expect(stopped).toBe(false);
    expect(store.lease!.record.holderIdentity).toBe('s');
    await clock.advance(20);
    expect(finished).toBe(true);
    expect(stopped).toBe(true);
    expect(store.lease!.record.holderIdentity).toBe('');
  });

  it('leaves the Lease to expire when the work ignores its signal', async () => {
    const { clock, store, make, until } = world();
    const stubborn = new LeaderElector({
      namespace: 'test',
      name: 'lease',
      identity: 's',
      leaseDurationMs: LEASE_MS,
      renewDeadlineMs: RENEW_DEADLINE_MS,
      retryPeriodMs: RETRY_MS,
      workStopTimeoutMs: 400,
      clock,
      leaseClient: store.client(),
    }).onStartedLeading(() => new Promise<void>(() => {}));
    stubborn.start();
    await clock.advance(0);
    let stopped = false;
    void stubborn.stop().then(() => {
      stopped = true;
    });
    await clock.advance(390);
    expect(stopped).toBe(false);
    await clock.advance(10);
    expect(stopped).toBe(true);
    expect(store.lease!.record.holderIdentity).toBe('s');
    // A successor waits for the claim to run out instead.
    const b = make('b');
    b.elector.start();
    const took = await until(() => b.elector.isLeader());
    expect(took).toBeGreaterThanOrEqual(LEASE_MS);
    await b.elector.stop();
  });

  it('is safe to stop twice, or before start; start after stop is refused', async () => {
    const { clock, store, make } = world();
    const idle = make('idle');
    await idle.elector.stop();
    await idle.elector.stop();
    expect(idle.elector.state).toBe('stopped');
    expect(() => idle.elector.start()).toThrow(/after stop/);
    expect(store.writes).toHaveLength(0);

    const a = make('a');
    a.elector.start();
    a.elector.start();
    await clock.advance(0);
    expect(() => a.elector.onStartedLeading(() => {})).toThrow(/before start/);
    const first = a.elector.stop();
    const second = a.elector.stop();
    expect(second).toBe(first);
    await clock.advance(0);
    await Promise.all([first, second]);
    expect(a.events).toEqual(['started', 'stopped']);
    expect(store.writes.map((record) => record.holderIdentity)).toEqual(['a', '']);
  });

  it('rejects timings that could let two replicas lead at once', () => {
    const base = {
      namespace: 'n',
      name: 'l',
      identity: 'a',
      leaseClient: new MemoryLeaseStore().client(),
    };
    expect(
      () =>
        new LeaderElector({
          ...base,
          leaseDurationMs: 2000,
          renewDeadlineMs: 2000,
          retryPeriodMs: 500,
        }),
    ).toThrow(/leaseDurationMs \(2000\) must be greater than renewDeadlineMs/);
    expect(
      () =>
        new LeaderElector({
          ...base,
          leaseDurationMs: 3000,
          renewDeadlineMs: 1000,
          retryPeriodMs: 1000,
        }),
    ).toThrow(/renewDeadlineMs \(1000\) must be greater than retryPeriodMs/);
    expect(() => new LeaderElector({ ...base, identity: '' })).toThrow(/identity/);
    expect(() => new LeaderElector({ namespace: 'n', name: 'l', identity: 'a' })).toThrow(
      /kubeConfig/,
    );
    expect(new LeaderElector(base).state).toBe('idle');
  });
});
