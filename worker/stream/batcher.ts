/** One item's outcome in a flush: its value, or the error it alone failed with. */
export type Settled<R> = { ok: true; value: R } | { ok: false; error: unknown };

interface Waiting<T, R> {
  item: T;
  resolve: (value: R) => void;
  reject: (error: unknown) => void;
}

/**
 * Coalesces calls made while an earlier flush is in flight into one flush,
 * with a result per item: with nothing in flight an item goes at once (no
 * added latency); under load each flush carries everything that queued up
 * meanwhile, and what its predecessor's callers queued in the same turn of
 * the event loop (up to `maxBatch`), so one round trip serves many callers. A
 * flush that throws fails each of its items with that error; otherwise each
 * item settles with its own result.
 */
export class GroupBatcher<T, R> {
  private queue: Array<Waiting<T, R>> = [];
  private flushing = false;

  constructor(
    private readonly flush: (items: T[]) => Promise<Array<Settled<R>>>,
    private readonly maxBatch = 500,
  ) {}

  add(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (!this.flushing) void this.drain();
    });
  }

  /** Queues every item at once, so they go in the same flush (as far as maxBatch allows). */
  addAll(items: readonly T[]): Promise<Array<Settled<R>>> {
    const settled = items.map((item) =>
      new Promise<R>((resolve, reject) => {
        this.queue.push({ item, resolve, reject });
      }).then(
        (value): Settled<R> => ({ ok: true, value }),
        (error: unknown): Settled<R> => ({ ok: false, error }),
      ),
    );
    if (!this.flushing && items.length > 0) void this.drain();
    return Promise.all(settled);
  }

  private async drain(): Promise<void> {
    this.flushing = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, this.maxBatch);
        try {
          const results = await this.flush(batch.map((entry) => entry.item));
          batch.forEach((entry, index) => {
            const result = results[index];
            if (result?.ok) entry.resolve(result.value);
            else entry.reject(result ? result.error : new Error('the flush gave no result'));
          });
        } catch (error) {
          for (const entry of batch) entry.reject(error);
        }
        // The callers this flush released usually call again at once: give them this turn of
        // the event loop to queue up, so they share the next flush instead of the first of
        // them going alone. Only a flush that follows another waits; an idle call goes at once.
        if (this.queue.length < this.maxBatch)
          await new Promise((resolve) => setImmediate(resolve));
      }
    } finally {
      this.flushing = false;
    }
  }
}

/**
 * Coalesces calls made while an earlier flush is in flight into one flush:
 * with nothing in flight an item goes at once (no added latency); under load
 * each flush carries everything that queued up meanwhile, so one round trip
 * serves many callers. Each caller's promise settles with its flush.
 */
export class Batcher<T> {
  private readonly group: GroupBatcher<T, undefined>;

  constructor(flush: (items: T[]) => Promise<void>, maxBatch = 500) {
    this.group = new GroupBatcher(async (items) => {
      await flush(items);
      return items.map(() => ({ ok: true, value: undefined }));
    }, maxBatch);
  }

  add(item: T): Promise<void> {
    return this.group.add(item);
  }
}
