/** One item's outcome in a flush: its value, or the error it alone failed with. */
export type Settled<R> = { ok: true; value: R } | { ok: false; error: unknown };

interface Waiting<T, R> {
  item: T;
  resolve: (value: R) => void;
  reject: (error: unknown) => void;
}

export interface GroupBatcherOptions<T> {
  /** Most items in one flush (default 500). */
  maxBatch?: number;
  /** Flushes that may run at once (default 1). */
  maxInFlight?: number;
  /**
   * With more than one flush in flight: items of the same key never go in
   * two flushes at once, and go in the order they were added (an item whose
   * key is in flight waits, and so does every later item with that key).
   */
  keyOf?: (item: T) => string;
}

/**
 * Coalesces calls made while a flush is in flight into one flush, with a
 * result per item: with nothing in flight an item goes at once (no added
 * latency); under load each flush carries everything that queued up
 * meanwhile, and what its predecessor's callers queued in the same turn of
 * the event loop (up to `maxBatch`), so one round trip serves many callers.
 * A flush that throws fails each of its items with that error; otherwise
 * each item settles with its own result.
 */
export class GroupBatcher<T, R> {
  private queue: Array<Waiting<T, R>> = [];
  private inFlight = 0;
  /** Keys of the items in flight, with how many flushes carry each. */
  private readonly busy = new Map<string, number>();
  private readonly maxBatch: number;
  private readonly maxInFlight: number;

  constructor(
    private readonly flush: (items: T[]) => Promise<Array<Settled<R>>>,
    private readonly options: GroupBatcherOptions<T> = {},
  ) {
    this.maxBatch = options.maxBatch ?? 500;
    this.maxInFlight = options.maxInFlight ?? 1;
  }

  add(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.pump();
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
    this.pump();
    return Promise.all(settled);
  }

  /** Starts flushes while there is room and something that may go. */
  private pump(): void {
    while (this.inFlight < this.maxInFlight && this.queue.length > 0) {
      const batch = this.take();
      if (batch.length === 0) return;
      this.inFlight += 1;
      void this.run(batch);
    }
  }

  /** Takes up to maxBatch items in order, leaving those whose key is busy (and their followers). */
  private take(): Array<Waiting<T, R>> {
    const keyOf = this.options.keyOf;
    if (keyOf === undefined || this.maxInFlight === 1) return this.queue.splice(0, this.maxBatch);
    const taken: Array<Waiting<T, R>> = [];
    const kept: Array<Waiting<T, R>> = [];
    const blocked = new Set(this.busy.keys());
    for (const entry of this.queue) {
      const key = keyOf(entry.item);
      if (taken.length < this.maxBatch && !blocked.has(key)) {
        taken.push(entry);
      } else {
        kept.push(entry);
        blocked.add(key);
      }
    }
    this.queue = kept;
    for (const entry of taken) {
      const key = keyOf(entry.item);
      this.busy.set(key, (this.busy.get(key) ?? 0) + 1);
    }
    return taken;
  }

  private async run(batch: Array<Waiting<T, R>>): Promise<void> {
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
    const keyOf = this.options.keyOf;
    if (keyOf !== undefined && this.maxInFlight > 1) {
      for (const entry of batch) {
        const key = keyOf(entry.item);
        const count = (this.busy.get(key) ?? 1) - 1;
        if (count > 0) this.busy.set(key, count);
        else this.busy.delete(key);
      }
    }
    // The callers this flush released usually call again at once: give them this turn of the
    // event loop to queue up, so they share the next flush instead of the first of them going
    // alone. Only a flush that follows another waits; an idle call goes at once.
    if (this.queue.length < this.maxBatch) await new Promise((resolve) => setImmediate(resolve));
    this.inFlight -= 1;
    this.pump();
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
    this.group = new GroupBatcher(
      async (items) => {
        await flush(items);
        return items.map(() => ({ ok: true, value: undefined }));
      },
      { maxBatch },
    );
  }

  add(item: T): Promise<void> {
    return this.group.add(item);
  }
}
