/**
 * A queue of object keys (`namespace/name`) for reconcilers, in the manner
 * of client-go's rate-limited work queue:
 *  - a key is queued at most once, however often it is added;
 *  - a key is never handed to two workers at once: added while being
 *    processed, it is queued again when that processing is done;
 *  - a failed key comes back after an exponential backoff with jitter,
 *    which a success resets.
 */

export interface WorkQueueOptions {
  /** Delay after the first failure (default 250 ms). */
  baseDelayMs?: number;
  /** Longest delay (default 60 s). */
  maxDelayMs?: number;
  /** The delay varies by ± this fraction (default 0.2). */
  jitter?: number;
  random?: () => number;
}

/** What a handler may ask for besides success or failure. */
export interface HandlerResult {
  /** Process the key again after this many ms (a periodic check, not a failure). */
  requeueAfterMs?: number | undefined;
}

export type KeyHandler = (key: string) => Promise<HandlerResult | undefined> | Promise<void>;

export class WorkQueue {
  private readonly ready: string[] = [];
  private readonly queued = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly again = new Set<string>();
  private readonly delayed = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private readonly failures = new Map<string, number>();
  private readonly waiting: Array<(key: string | undefined) => void> = [];
  private stopped = false;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly jitter: number;
  private readonly random: () => number;

  constructor(options: WorkQueueOptions = {}) {
    this.baseDelayMs = options.baseDelayMs ?? 250;
    this.maxDelayMs = options.maxDelayMs ?? 60_000;
    this.jitter = Math.min(1, Math.max(0, options.jitter ?? 0.2));
    this.random = options.random ?? Math.random;
  }

  get length(): number {
    return this.ready.length;
  }

  get shuttingDown(): boolean {
    return this.stopped;
  }

  /** Queues `key` now (a no-op when it is already queued). */
  add(key: string): void {
    if (this.stopped) return;
    if (this.processing.has(key)) {
      this.again.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    const waiter = this.waiting.shift();
    if (waiter) {
      this.processing.add(key);
      waiter(key);
      return;
    }
    this.queued.add(key);
    this.ready.push(key);
  }

  /** Queues `key` after `delayMs`; an earlier pending add of the same key wins. */
  addAfter(key: string, delayMs: number): void {
    if (this.stopped) return;
    if (delayMs <= 0) {
      this.add(key);
      return;
    }
    const at = Date.now() + delayMs;
    const pending = this.delayed.get(key);
    if (pending && pending.at <= at) return;
    if (pending) clearTimeout(pending.timer);
    const timer = setTimeout(() => {
      this.delayed.delete(key);
      this.add(key);
    }, delayMs);
    timer.unref?.();
    this.delayed.set(key, { at, timer });
  }

  /** The delay the next failure of `key` gets, before jitter. */
  backoffMs(failures: number): number {
    return Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** Math.min(failures, 30));
  }

  /** Queues `key` again after its backoff, which doubles with every failure in a row. */
  addRateLimited(key: string): number {
    const failures = this.failures.get(key) ?? 0;
    this.failures.set(key, failures + 1);
    const spread = 1 - this.jitter + 2 * this.jitter * this.random();
    const delay = Math.min(this.maxDelayMs, Math.round(this.backoffMs(failures) * spread));
    this.addAfter(key, delay);
    return delay;
  }

  /** Failures in a row of `key`. */
  failureCount(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** Clears the failure count of `key` (after a success). */
  forget(key: string): void {
    this.failures.delete(key);
  }

  /** The next key, waiting for one; undefined once the queue is shut down. */
  get(): Promise<string | undefined> {
    if (this.stopped) return Promise.resolve(undefined);
    const key = this.ready.shift();
    if (key !== undefined) {
      this.queued.delete(key);
      this.processing.add(key);
      return Promise.resolve(key);
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  /** Marks `key` processed; queues it again if it was added meanwhile. */
  done(key: string): void {
    this.processing.delete(key);
    if (this.again.delete(key)) this.add(key);
  }

  /** Drops everything pending; workers get undefined and stop. */
  shutdown(): void {
    this.stopped = true;
    for (const { timer } of this.delayed.values()) clearTimeout(timer);
    this.delayed.clear();
    this.ready.length = 0;
    this.queued.clear();
    this.again.clear();
    for (const waiter of this.waiting.splice(0)) waiter(undefined);
  }

  /**
   * Runs `concurrency` workers on the queue until it is shut down. A
   * handler that throws has its key retried with backoff (`onError` is told
   * the delay); one that succeeds has its failures forgotten.
   */
  async run(
    concurrency: number,
    handler: KeyHandler,
    onError: (key: string, error: unknown, retryInMs: number) => void = () => {},
  ): Promise<void> {
    const worker = async () => {
      for (;;) {
        const key = await this.get();
        if (key === undefined) return;
        try {
          const result = await handler(key);
          this.forget(key);
          if (result && result.requeueAfterMs !== undefined) {
            this.addAfter(key, result.requeueAfterMs);
          }
        } catch (error) {
          if (!this.stopped) onError(key, error, this.addRateLimited(key));
        } finally {
          this.done(key);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
  }
}
