/**
 * Keeps a local copy of one kind of object in step with the API server:
 * list, then watch from the list's resourceVersion; when the watch ends
 * normally, watch again from the last version seen; when the version is
 * gone (410) or the watch fails, list again (after a backoff on failures)
 * and report what changed meanwhile, deletions included.
 */
import type { Logger } from 'pino';
import { logText } from '../../core/error-record.js';
import { sleep } from '../../core/timing.js';
import { KubeApiError } from '../kube/client.js';
import type { KubeObject, ListWatch, WatchEvent } from '../kube/types.js';

export interface ReflectorHandler<T> {
  onAdd?(object: T): void;
  onUpdate?(previous: T, object: T): void;
  onDelete?(object: T): void;
}

export interface ReflectorOptions {
  /** First delay after a failed list or watch (default 500 ms), doubling up to maxBackoffMs. */
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  /** A watch that ends sooner than this is followed by a pause as long (default 1 s). */
  shortWatchMs?: number;
}

export function objectKey(object: KubeObject): string {
  const { namespace, name } = object.metadata ?? {};
  return namespace ? `${namespace}/${name}` : (name ?? '');
}

function resourceVersionOf(object: KubeObject): string | undefined {
  return object.metadata?.resourceVersion;
}

/** True when `candidate` is known to be older than `current` (etcd revisions are numbers). */
function isOlder(candidate: KubeObject, current: KubeObject): boolean {
  const a = resourceVersionOf(candidate);
  const b = resourceVersionOf(current);
  if (a === undefined || b === undefined || !/^\d+$/.test(a) || !/^\d+$/.test(b)) return false;
  return BigInt(a) < BigInt(b);
}

export class Reflector<T extends KubeObject> {
  private readonly store = new Map<string, T>();
  private abort: AbortController | undefined;
  private loop: Promise<void> | undefined;
  private syncedOnce = false;
  private syncWaiters: Array<() => void> = [];
  private lists = 0;
  private readonly baseBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly shortWatchMs: number;

  constructor(
    private readonly source: ListWatch<T>,
    private readonly handler: ReflectorHandler<T>,
    private readonly logger: Logger,
    options: ReflectorOptions = {},
  ) {
    this.baseBackoffMs = options.baseBackoffMs ?? 500;
    this.maxBackoffMs = options.maxBackoffMs ?? 30_000;
    this.shortWatchMs = options.shortWatchMs ?? 1_000;
  }

  /** True once the first list has been loaded. */
  get synced(): boolean {
    return this.syncedOnce;
  }

  /** How many times the objects were listed (the first list included). */
  get listCount(): number {
    return this.lists;
  }

  get(key: string): T | undefined {
    return this.store.get(key);
  }

  keys(): string[] {
    return [...this.store.keys()];
  }

  values(): T[] {
    return [...this.store.values()];
  }

  /**
   * Records an object this process just wrote (e.g. the answer to an
   * apply), so reads do not wait for the watch; never replaces a newer copy.
   */
  remember(object: T): void {
    const key = objectKey(object);
    const current = this.store.get(key);
    if (current && isOlder(object, current)) return;
    this.store.set(key, object);
  }

  waitForSync(): Promise<void> {
    if (this.syncedOnce) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  start(): void {
    if (this.loop) return;
    this.abort = new AbortController();
    this.loop = this.run(this.abort.signal);
  }

  async stop(): Promise<void> {
    this.abort?.abort();
    await this.loop;
    this.loop = undefined;
    for (const resolve of this.syncWaiters.splice(0)) resolve();
  }

  private async run(signal: AbortSignal): Promise<void> {
    let failures = 0;
    while (!signal.aborted) {
      try {
        let resourceVersion = await this.relist();
        failures = 0;
        // Watch until the version is gone or the watch fails.
        while (!signal.aborted) {
          const startedAt = Date.now();
          await this.source.watch(
            resourceVersion,
            (event) => {
              resourceVersion = this.apply(event) ?? resourceVersion;
            },
            signal,
          );
          const lastedMs = Date.now() - startedAt;
          this.logger.debug({ watch: this.source.description, lastedMs }, 'watch ended');
          // A server that keeps ending watches at once is not hammered.
          if (lastedMs < this.shortWatchMs) await sleep(this.shortWatchMs, signal);
        }
      } catch (error) {
        if (signal.aborted) break;
        const gone = error instanceof KubeApiError && error.gone;
        if (gone) {
          this.logger.info(
            { watch: this.source.description },
            'watch version expired (410 Gone); listing again',
          );
          continue;
        }
        const delay = Math.min(this.maxBackoffMs, this.baseBackoffMs * 2 ** Math.min(failures, 20));
        failures++;
        this.logger.warn(
          {
            watch: this.source.description,
            err: logText(error),
            retryInMs: delay,
          },
          'list or watch failed; listing again after a pause',
        );
        await sleep(delay, signal);
      }
    }
  }

  /** Lists everything and reports the differences to what the store held. */
  private async relist(): Promise<string> {
    const { items, resourceVersion } = await this.source.list();
    this.lists++;
    const seen = new Set<string>();
    for (const object of items) {
      const key = objectKey(object);
      seen.add(key);
      const previous = this.store.get(key);
      this.store.set(key, object);
      if (previous === undefined) this.handler.onAdd?.(object);
      else this.handler.onUpdate?.(previous, object);
    }
    for (const [key, object] of [...this.store]) {
      if (!seen.has(key)) {
        this.store.delete(key);
        this.handler.onDelete?.(object);
      }
    }
    if (!this.syncedOnce) {
      this.syncedOnce = true;
      for (const resolve of this.syncWaiters.splice(0)) resolve();
    }
    return resourceVersion;
  }

  /** Applies one watch event; returns the resourceVersion to resume from. */
  private apply(event: WatchEvent<T>): string | undefined {
    const { object } = event;
    const version = resourceVersionOf(object);
    if (event.type === 'BOOKMARK') return version;
    const key = objectKey(object);
    const previous = this.store.get(key);
    if (event.type === 'DELETED') {
      this.store.delete(key);
      this.handler.onDelete?.(previous ?? object);
      return version;
    }
    // A copy this process wrote itself may be ahead of the watch.
    if (previous !== undefined && isOlder(object, previous)) return version;
    this.store.set(key, object);
    if (previous === undefined) this.handler.onAdd?.(object);
    else this.handler.onUpdate?.(previous, object);
    return version;
  }
}
