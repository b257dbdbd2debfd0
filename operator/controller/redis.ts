/**
 * Where a pool's backlog is read: its Redis URL (from the spec, or from a
 * Secret read through the API) and one shared fail-fast client per URL.
 */

import { createBacklogRedis } from '../../stream/backlog/connection.js';
import { RedisBacklogSource } from '../../stream/backlog/redis-backlog-source.js';
import type { BacklogSource, ConsumerAdmin } from '../../stream/backlog/types.js';
import type { WorkflowWorkerPool } from '../api/pool.js';
import { KubeApiError } from '../kube/client.js';
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

/** The scheme of a usable Redis URL, or undefined; never says what the text was. */
function redisUrl(value: string): string | undefined {
  try {
    const parsed = new URL(value.trim());
    return parsed.protocol === 'redis:' || parsed.protocol === 'rediss:' ? value.trim() : undefined;
  } catch {
    return undefined;
  }
}

function checkSpecUrl(url: string): RedisUrlResult {
  if (redisUrl(url) !== undefined) return { ok: true, url: url.trim() };
  // The spec's own text: its author wrote it, so naming its scheme tells nothing new.
  return {
    ok: false,
    reason: 'InvalidRedisUrl',
    message: 'spec.redis.url must be a redis:// or rediss:// URL',
  };
}

/**
 * Why a Secret could not give the URL, for tests and for the cache; never
 * shown. Hazard: conditions and Events are read by whoever may read the
 * pool, who may not read the Secret, so a missing Secret, a missing key and
 * an unusable value must look the same there (which reveals neither the
 * Secret's existence, nor its keys, nor any part of its value).
 */
export type SecretProblem = 'secret-missing' | 'key-missing' | 'not-a-redis-url' | 'api-error';

/** The one message for every Secret problem but a refused read. */
function secretUnusable(name: string, key: string, cause: SecretProblem) {
  return {
    ok: false as const,
    reason: 'SecretUnreadable',
    message: `cannot read the Redis URL from the Secret reference spec.redis.urlSecretRef (name ${name}, key ${key}); it must name a Secret of this namespace and a key whose value is a redis:// or rediss:// URL`,
    cause,
  };
}

/**
 * The operator may not read Secrets there (RBAC). That depends on the
 * operator's rights and the name only, never on what the Secret holds or
 * whether it exists, so it can be told apart.
 */
function secretDenied(namespace: string, name: string, key: string, refusal: string) {
  return {
    ok: false as const,
    reason: 'SecretAccessDenied',
    message: `the operator may not read Secret ${name} in namespace ${namespace} (its RBAC: the chart's rbac.secretNamespaces and rbac.secretNames), so it cannot read the Redis URL of spec.redis.urlSecretRef (key ${key}) and cannot see the backlog; give spec.redis.url, or ask the cluster admin to let it read this Secret (the API server said: ${refusal})`,
  };
}

/**
 * Resolves a pool's Redis URL. Secret values are cached per pool for
 * `ttlMs`, so a rotated Secret is picked up within that time without a read
 * per poll; an entry past its TTL is dropped when next looked up, and a
 * pool's entry when the pool is forgotten, so no Secret value outlives both.
 */
export class RedisUrlResolver {
  private readonly cache = new Map<
    string,
    { secret: string; at: number; result: RedisUrlResult }
  >();

  constructor(
    private readonly kube: Pick<KubeTarget, 'readSecretKey'>,
    private readonly ttlMs = 30_000,
    private readonly now: () => number = Date.now,
  ) {}

  async resolve(pool: WorkflowWorkerPool): Promise<RedisUrlResult> {
    const { redis } = pool.spec;
    if (redis.url !== undefined) return checkSpecUrl(redis.url);
    const ref = redis.urlSecretRef;
    if (ref === undefined) {
      return {
        ok: false,
        reason: 'InvalidRedisUrl',
        message: 'spec.redis sets neither url nor urlSecretRef',
      };
    }
    const namespace = pool.metadata.namespace ?? 'default';
    const poolKey = `${namespace}/${pool.metadata.name}`;
    const secret = `${ref.name}/${ref.key}`;
    const cached = this.cache.get(poolKey);
    if (cached && cached.secret === secret && this.now() - cached.at < this.ttlMs) {
      return cached.result;
    }
    this.cache.delete(poolKey);
    const result = await this.readSecret(namespace, ref.name, ref.key);
    // Failures to reach the API are not cached: the next poll asks again.
    if (!('cause' in result && result.cause === 'api-error')) {
      this.cache.set(poolKey, { secret, at: this.now(), result });
    }
    return result;
  }

  private async readSecret(
    namespace: string,
    name: string,
    key: string,
  ): Promise<RedisUrlResult & { cause?: SecretProblem }> {
    let found: Awaited<ReturnType<KubeTarget['readSecretKey']>>;
    try {
      found = await this.kube.readSecretKey(namespace, name, key);
    } catch (error) {
      if (error instanceof KubeApiError && error.status === 403) {
        return secretDenied(namespace, name, key, error.message);
      }
      return secretUnusable(name, key, 'api-error');
    }
    if (found.found !== 'value') return secretUnusable(name, key, found.found);
    const url = redisUrl(found.value);
    return url === undefined ? secretUnusable(name, key, 'not-a-redis-url') : { ok: true, url };
  }

  /** Drops the pool's cached Secret value: the pool went away (or came back anew). */
  forget(namespace: string, name: string): void {
    this.cache.delete(`${namespace}/${name}`);
  }
}
