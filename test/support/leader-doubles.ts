import {
  type Clock,
  type LeaseCallOptions,
  type LeaseClient,
  LeaseConflictError,
  type LeaseRecord,
  type StoredLease,
} from '../../operator/leader/types.js';

/**
 * Test doubles for the elector: a clock that moves only when told, and an
 * in-memory Lease with the same optimistic-concurrency rules as the
 * apiserver, whose clients can be made to fail or hang.
 */

interface Sleeper {
  due: number;
  seq: number;
  resolve: () => void;
}

/** Lets every pending promise callback run (timers here are fake; setImmediate is real). */
export async function flushPromises(rounds = 3): Promise<void> {
  for (let round = 0; round < rounds; round++) {
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/** A clock that moves only through advance(); sleepers wake in due order. */
export class FakeClock implements Clock {
  private current = 0;
  private seq = 0;
  private sleepers: Sleeper[] = [];

  constructor(private readonly wallStart = Date.UTC(2030, 0, 1, 12, 0, 0)) {}

  now(): number {
    return this.current;
  }

  date(): Date {
    return new Date(this.wallStart + this.current);
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      if (signal?.aborted) {
        resolve();
        return;
      }
      const sleeper: Sleeper = {
        due: this.current + Math.max(0, ms),
        seq: this.seq++,
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        this.sleepers = this.sleepers.filter((other) => other !== sleeper);
        sleeper.resolve();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.sleepers.push(sleeper);
    });
  }

  /** Moves time forward by `ms`, waking each sleeper at its due time and letting it run. */
  async advance(ms: number): Promise<void> {
    const target = this.current + ms;
    for (;;) {
      await flushPromises();
      const next = this.sleepers
        .filter((sleeper) => sleeper.due <= target)
        .sort((a, b) => a.due - b.due || a.seq - b.seq)[0];
      if (next === undefined) break;
      this.sleepers = this.sleepers.filter((sleeper) => sleeper !== next);
      this.current = Math.max(this.current, next.due);
      next.resolve();
    }
    this.current = target;
    await flushPromises();
  }

  /**
   * Moves time without waking anyone, as when the event loop was blocked:
   * timers are late, but whoever reads the clock sees the new time.
   */
  jump(ms: number): void {
    this.current += ms;
  }

  /**
   * Advances in `stepMs` steps, calling `sample` after each, until `done`
   * holds; fails after `limitMs`. Returns the time it took.
   */
  async advanceUntil(
    done: () => boolean,
    {
      stepMs = 10,
      limitMs = 60_000,
      sample,
    }: { stepMs?: number; limitMs?: number; sample?: () => void } = {},
  ): Promise<number> {
    const start = this.current;
    while (!done()) {
      if (this.current - start >= limitMs) {
        throw new Error(`FakeClock: condition not met within ${limitMs} ms of fake time`);
      }
      await this.advance(stepMs);
      sample?.();
    }
    return this.current - start;
  }
}

/** How a MemoryLeaseClient answers. */
export type MemoryClientMode =
  /** Normally. */
  | 'ok'
  /** Every call rejects at once, as with the server unreachable. */
  | 'fail'
  /** Every call hangs until its signal aborts, as with a network black hole. */
  | 'hang';

/** One Lease in memory, with the apiserver's optimistic concurrency. */
export class MemoryLeaseStore {
  private stored: StoredLease | undefined;
  private version = 0;
  /** Every successful write, in order. */
  readonly writes: LeaseRecord[] = [];

  constructor(readonly description = 'test/lease') {}

  /** The Lease as stored now (a copy), or undefined. */
  get lease(): StoredLease | undefined {
    return this.stored === undefined ? undefined : copy(this.stored);
  }

  /** A client of this store, with its own failure mode. */
  client(): MemoryLeaseClient {
    return new MemoryLeaseClient(this);
  }

  /** Writes `record` unconditionally, as someone outside the election would. */
  put(record: LeaseRecord): StoredLease {
    return this.write(record);
  }

  /** Removes the Lease. */
  delete(): void {
    this.stored = undefined;
  }

  /** @internal */
  doCreate(record: LeaseRecord): StoredLease {
    if (this.stored !== undefined) throw new LeaseConflictError('lease already exists');
    return this.write(record);
  }

  /** @internal */
  doReplace(current: StoredLease, record: LeaseRecord): StoredLease {
    if (this.stored === undefined || this.stored.resourceVersion !== current.resourceVersion) {
      throw new LeaseConflictError(
        `stale resourceVersion ${current.resourceVersion} (now ${this.stored?.resourceVersion ?? 'deleted'})`,
      );
    }
    return this.write(record);
  }

  private write(record: LeaseRecord): StoredLease {
    this.version += 1;
    this.stored = { resourceVersion: String(this.version), record: { ...record } };
    this.writes.push({ ...record });
    return copy(this.stored);
  }
}

export class MemoryLeaseClient implements LeaseClient {
  mode: MemoryClientMode = 'ok';
  /** Calls made, by kind. */
  readonly calls = { get: 0, create: 0, replace: 0 };

  constructor(private readonly store: MemoryLeaseStore) {}

  get description(): string {
    return this.store.description;
  }

  async get(options: LeaseCallOptions = {}): Promise<StoredLease | undefined> {
    this.calls.get += 1;
    await this.gate(options.signal);
    return this.store.lease;
  }

  async create(record: LeaseRecord, options: LeaseCallOptions = {}): Promise<StoredLease> {
    this.calls.create += 1;
    await this.gate(options.signal);
    return this.store.doCreate(record);
  }

  async replace(
    current: StoredLease,
    record: LeaseRecord,
    options: LeaseCallOptions = {},
  ): Promise<StoredLease> {
    this.calls.replace += 1;
    await this.gate(options.signal);
    return this.store.doReplace(current, record);
  }

  private gate(signal: AbortSignal | undefined): Promise<void> {
    if (this.mode === 'ok') return Promise.resolve();
    if (this.mode === 'fail') return Promise.reject(new Error('connect ECONNREFUSED (test)'));
    return new Promise<void>((_resolve, reject) => {
      if (signal?.aborted) reject(signal.reason);
      signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
    });
  }
}

function copy(lease: StoredLease): StoredLease {
  return { resourceVersion: lease.resourceVersion, record: { ...lease.record } };
}
