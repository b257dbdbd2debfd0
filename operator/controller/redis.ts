/**
 * Where a pool's backlog is read: its Redis URL (from the spec, or from a
 * Secret read through the API) and one shared fail-fast client per URL.
 */
import type { WorkflowWorkerPool } from '../api/pool.js';
import { createBacklogRedis } from '../backlog/connection.js';
import { RedisBacklogSource } from '../backlog/redis-backlog-source.js';
import type { BacklogSource, ConsumerAdmin } from '../backlog/types.js';
import type { KubeTarget } from '../kube/types.js';

export type BacklogClient = BacklogSource & ConsumerAdmin;

export interface BacklogConnection {
  client: BacklogClient;
  close(): void;
}

/** Opens a backlog client for a Redis URL; the default is a RedisBacklogSource reading consumers too. */
export type BacklogConnector = (url: string) => BacklogConnection;

export const redisBacklogConnector: BacklogConnector = (url) => {
  const redis = createBacklogRedis(url);
  return {
    client: new RedisBacklogSource(redis, { includeConsumers: true, timeoutMs: 5_000 }),
    close: () => redis.disconnect(),
  };
};

/** One client per URL, shared by the pools using it and closed when the last one leaves. */
export class BacklogConnections {
  private readonly byUrl = new Map<string, { connection: BacklogConnection; users: Set<string> }>();
  private readonly urlOf = new Map<string, string>();

  constructor(private readonly connector: BacklogConnector = redisBacklogConnector) {}

  /** The client for `url`, used by pool `key` (which stops using any other URL). */
  use(key: string, url: string): BacklogClient {
    const previous = this.urlOf.get(key);
    if (previous !== undefined && previous !== url) this.release(key);
    let entry = this.byUrl.get(url);
    if (entry === undefined) {
      entry = { connection: this.connector(url), users: new Set() };
      this.byUrl.set(url, entry);
    }
    entry.users.add(key);
    this.urlOf.set(key, url);
    return entry.connection.client;
  }

  release(key: string): void {
    const url = this.urlOf.get(key);
    if (url === undefined) return;
    this.urlOf.delete(key);
    const entry = this.byUrl.get(url);
    if (entry === undefined) return;
    entry.users.delete(key);
    if (entry.users.size === 0) {
      this.byUrl.delete(url);
      entry.connection.close();
    }
  }

  get size(): number {
    return this.byUrl.size;
  }

  closeAll(): void {
    for (const { connection } of this.byUrl.values()) connection.close();
    this.byUrl.clear();
    this.urlOf.clear();
  }
}

export type RedisUrlResult =
  | { ok: true; url: string }
  /** `reason` is CamelCase for the StreamReachable condition. */
  | { ok: false; reason: string; message: string };

function checkUrl(url: string, from: string): RedisUrlResult {
  let parsed: URL;
  try {
    parsed = new URL(url.trim());
  } catch {
    return { ok: false, reason: 'InvalidRedisUrl', message: `${from} is not a URL` };
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    return {
      ok: false,
      reason: 'InvalidRedisUrl',
      message: `${from} must be a redis:// or rediss:// URL, not ${parsed.protocol}//…`,
    };
  }
  return { ok: true, url: url.trim() };
}

/**
 * Resolves a pool's Redis URL. Secret values are cached for `ttlMs`, so a
 * rotated Secret is picked up within that time without a read per poll.
 */
export class RedisUrlResolver {
  private readonly cache = new Map<string, { at: number; result: RedisUrlResult }>();

  constructor(
    private readonly kube: Pick<KubeTarget, 'readSecretKey'>,
    private readonly ttlMs = 30_000,
    private readonly now: () => number = Date.now,
  ) {}

  async resolve(pool: WorkflowWorkerPool): Promise<RedisUrlResult> {
    const { redis } = pool.spec;
    if (redis.url !== undefined) return checkUrl(redis.url, 'spec.redis.url');
    const ref = redis.urlSecretRef;
    if (ref === undefined) {
      return {
        ok: false,
        reason: 'InvalidRedisUrl',
        message: 'spec.redis sets neither url nor urlSecretRef',
      };
    }
    const namespace = pool.metadata.namespace ?? 'default';
    const cacheKey = `${namespace}/${ref.name}/${ref.key}`;
    const cached = this.cache.get(cacheKey);
    if (cached && this.now() - cached.at < this.ttlMs) return cached.result;
    const result = await this.readSecret(namespace, ref.name, ref.key);
    // Failures to reach the API are not cached: the next poll asks again.
    if (result.ok || result.reason !== 'SecretUnreadable') {
      this.cache.set(cacheKey, { at: this.now(), result });
    }
    return result;
  }

  private async readSecret(namespace: string, name: string, key: string): Promise<RedisUrlResult> {
    const from = `key ${key} of Secret ${namespace}/${name}`;
    try {
      const found = await this.kube.readSecretKey(namespace, name, key);
      if (found.found === 'secret-missing') {
        return {
          ok: false,
          reason: 'SecretNotFound',
          message: `Secret ${namespace}/${name} (spec.redis.urlSecretRef) does not exist`,
        };
      }
      if (found.found === 'key-missing') {
        return {
          ok: false,
          reason: 'SecretKeyNotFound',
          message: `Secret ${namespace}/${name} has no key ${key} (spec.redis.urlSecretRef.key)`,
        };
      }
      return checkUrl(found.value, from);
    } catch (error) {
      return {
        ok: false,
        reason: 'SecretUnreadable',
        message: `reading Secret ${namespace}/${name}: ${error instanceof Error ? error.message : String(error)}`,
      };
    }
  }

  /** Forgets cached Secret values (e.g. when a pool goes away). */
  clear(): void {
    this.cache.clear();
  }
}
