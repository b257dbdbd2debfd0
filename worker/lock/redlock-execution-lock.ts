import type { Redis } from 'ioredis';
import Redlock, { ExecutionError, type Lock } from 'redlock';
import { LockBusyError } from '../../core/errors.js';
import type { ExecutionLock, Lease } from './execution-lock.js';

export interface RedlockOptions {
  /** Lock time-to-live; extended every ttl/3 while work runs. */
  ttlMs: number;
  /** Acquisition attempts before giving up with LockBusyError. */
  retryCount: number;
  retryDelayMs: number;
  keyPrefix: string;
}

const DEFAULT_LOCK_OPTIONS: RedlockOptions = {
  ttlMs: 15_000,
  retryCount: 3,
  retryDelayMs: 40,
  keyPrefix: 'flowpool:lock:',
};

/** ExecutionLock on redlock, with automatic extension while work runs. */
export class RedlockExecutionLock implements ExecutionLock {
  private readonly redlock: Redlock;

  constructor(
    redis: Redis,
    private readonly options: RedlockOptions = DEFAULT_LOCK_OPTIONS,
  ) {
    this.redlock = new Redlock([redis], {
      retryCount: options.retryCount,
      retryDelay: options.retryDelayMs,
      retryJitter: Math.ceil(options.retryDelayMs / 2),
    });
    // Failures surface through acquire/extend; the emitter would only duplicate them.
    this.redlock.on('error', () => {});
  }

  async withLock<T>(resource: string, work: (lease: Lease) => Promise<T>): Promise<T> {
    const key = this.options.keyPrefix + resource;
    let lock: Lock;
    try {
      lock = await this.redlock.acquire([key], this.options.ttlMs);
    } catch (error) {
      if (error instanceof ExecutionError) throw new LockBusyError(resource);
      throw error;
    }
    const lost = new AbortController();
    const timer = setInterval(
      () => {
        lock.extend(this.options.ttlMs).then(
          (extended) => {
            lock = extended;
          },
          () => lost.abort(new LockBusyError(resource)),
        );
      },
      Math.max(10, Math.floor(this.options.ttlMs / 3)),
    );
    try {
      return await work({ signal: lost.signal });
    } finally {
      clearInterval(timer);
      // An expired or stolen lock fails to release; that is harmless here.
      await lock.release().catch(() => undefined);
    }
  }
}
