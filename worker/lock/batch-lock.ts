import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { LockBusyError } from '../../core/errors.js';
import type { Lease } from './execution-lock.js';
import { EXTEND_MANY, LOCK_MANY, RELEASE_MANY } from './scripts.js';

export interface BatchLockOptions {
  ttlMs: number;
  keyPrefix: string;
}

/**
 * The locks of one batch of executions: those taken, each with its lease,
 * extended together every ttl/3 until released. A lock that fails to
 * extend aborts its own lease only.
 */
export class HeldLocks {
  private readonly leases = new Map<string, AbortController>();
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly owner: BatchLock,
    private readonly token: string,
    taken: readonly string[],
    /** Resources another holder has. */
    readonly busy: readonly string[],
  ) {
    for (const resource of taken) this.leases.set(resource, new AbortController());
    if (taken.length > 0) {
      this.timer = setInterval(() => void this.extend(), Math.max(10, Math.floor(owner.ttlMs / 3)));
    }
  }

  /** The lease of a resource this batch holds; undefined when it is busy or released. */
  lease(resource: string): Lease | undefined {
    const controller = this.leases.get(resource);
    return controller ? { signal: controller.signal } : undefined;
  }

  get held(): string[] {
    return [...this.leases.keys()];
  }

  /** Releases these resources (all still held when none are named) in one call. */
  async release(resources: readonly string[] = this.held): Promise<void> {
    const mine = resources.filter((resource) => this.leases.delete(resource));
    if (this.leases.size === 0) clearInterval(this.timer);
    if (mine.length === 0) return;
    // An expired or stolen lock fails to release; that is harmless (the database fences).
    await this.owner.releaseKeys(this.token, mine).catch(() => undefined);
  }

  private async extend(): Promise<void> {
    const resources = this.held;
    if (resources.length === 0) return;
    let kept: number[];
    try {
      kept = await this.owner.extendKeys(this.token, resources);
    } catch {
      // Redis unreachable: the locks may lapse; every lease is in doubt.
      kept = resources.map(() => 0);
    }
    resources.forEach((resource, i) => {
      if (kept[i] === 1) return;
      const controller = this.leases.get(resource);
      controller?.abort(new LockBusyError(resource));
    });
  }
}

/**
 * Takes the locks of many executions in one Redis call. A lock only keeps
 * two workers from doing the same work at once; commits are fenced in the
 * database (see ApplyStore.commitBatches).
 */
export class BatchLock {
  constructor(
    private readonly redis: Redis,
    private readonly options: BatchLockOptions,
  ) {}

  get ttlMs(): number {
    return this.options.ttlMs;
  }

  async acquire(resources: readonly string[]): Promise<HeldLocks> {
    const token = randomBytes(16).toString('hex');
    if (resources.length === 0) return new HeldLocks(this, token, [], []);
    const flags = await this.onKeys(LOCK_MANY, resources, token, String(this.options.ttlMs));
    const taken = resources.filter((_, i) => flags[i] === 1);
    const busy = resources.filter((_, i) => flags[i] !== 1);
    return new HeldLocks(this, token, taken, busy);
  }

  /** @internal */
  async extendKeys(token: string, resources: readonly string[]): Promise<number[]> {
    return this.onKeys(EXTEND_MANY, resources, token, String(this.options.ttlMs));
  }

  /** @internal */
  async releaseKeys(token: string, resources: readonly string[]): Promise<void> {
    await this.onKeys(RELEASE_MANY, resources, token);
  }

  /** Runs one of the scripts with the resources' keys as KEYS and `args` as ARGV. */
  private async onKeys(
    script: string,
    resources: readonly string[],
    ...args: string[]
  ): Promise<number[]> {
    const keys = resources.map((resource) => this.options.keyPrefix + resource);
    return (await this.redis.eval(script, keys.length, ...keys, ...args)) as number[];
  }
}
