import { isIP } from 'node:net';
import os from 'node:os';
import { ConfigError } from '../errors.js';
import {
  DEFAULT_CONSUMER_GROUP,
  DEFAULT_POOL,
  DEFAULT_STREAM_PREFIX,
  isPoolName,
  POOL_NAME_RULE,
} from '../stream-names.js';
import { type ApiSettings, loadApiSettings } from './api-settings.js';
import { apiTokens, type Env, integer, oneOf, optionalText, text, url } from './parse.js';
import { loadWorkerSettings, type WorkerSettings } from './worker-settings.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Settings shared by the worker and the api: where the data lives and how the stream is named. */
export interface CommonConfig {
  databaseUrl: string;
  redisUrl: string;
  streamPrefix: string;
  pool: string;
  /** prefix + pool */
  stream: string;
  consumerGroup: string;
  /** Module or folder of workflow definitions; undefined means the bundled examples. */
  workflowsPath: string | undefined;
  port: number;
  logLevel: LogLevel;
  maxDeliveries: number;
  lockTtlMs: number;
}

export interface WorkerConfig extends CommonConfig {
  /** Stable per pod: POD_NAME when set, else host name and pid. */
  consumerName: string;
  batchSize: number;
  idleTimeoutMs: number;
  workerCount: number;
  /** Events in flight per process (slots); a slot holds no database connection. */
  concurrency: number;
  /**
   * PostgreSQL connections per process, independent of the slots: a batch
   * of up to `concurrency` executions reads and commits on one connection,
   * and actions run outside any connection.
   */
  databasePoolSize: number;
  drainTimeoutMs: number;
  snapshotEvery: number;
  /** How often the outbox relay looks for notices to resend. */
  relayIntervalMs: number;
  /** A committed event never published is resent once it is this old. */
  relayUnpublishedAfterMs: number;
  /** A published event still pending this long is resent (its notice may be lost). */
  relayRepublishAfterMs: number;
  /** Bounds on time and memory (worker-settings.ts). */
  settings: WorkerSettings;
}

export interface ApiConfig extends CommonConfig {
  /** Address the API listens on (HOST): all interfaces in a pod, loopback in local mode. */
  host: string;
  /** token → tenant */
  tokens: Map<string, string>;
  /** Bounds on what one caller may cost the API (api-settings.ts). */
  settings: ApiSettings;
}

function common(env: Env): CommonConfig {
  const streamPrefix = text(env, 'WORKFLOW_REDIS_STREAM_PREFIX', DEFAULT_STREAM_PREFIX);
  const pool = text(env, 'WORKFLOW_POOL', DEFAULT_POOL);
  if (!isPoolName(pool)) throw new ConfigError('WORKFLOW_POOL', `expected ${POOL_NAME_RULE}`);
  return {
    databaseUrl: url(env, 'DATABASE_URL', ['postgres', 'postgresql']),
    redisUrl: url(env, 'REDIS_URL', ['redis', 'rediss'], 'redis://127.0.0.1:6379'),
    streamPrefix,
    pool,
    stream: streamPrefix + pool,
    consumerGroup: text(env, 'WORKFLOW_REDIS_CONSUMER_GROUP', DEFAULT_CONSUMER_GROUP),
    workflowsPath: optionalText(env, 'FLOWPOOL_WORKFLOWS'),
    port: integer(env, 'PORT', 8080, { min: 0, max: 65_535 }),
    logLevel: oneOf(env, 'LOG_LEVEL', LOG_LEVELS, 'info'),
    maxDeliveries: integer(env, 'WORKFLOW_MAX_DELIVERIES', 5, { min: 1, max: 1000 }),
    lockTtlMs: integer(env, 'WORKFLOW_LOCK_TTL_MS', 15_000, { min: 100, max: 600_000 }),
  };
}

/** Parses and checks the worker's environment once, at start. Throws ConfigError naming the variable. */
export function loadWorkerConfig(env: Env): WorkerConfig {
  const base = common(env);
  const idleTimeoutMs = integer(env, 'WORKFLOW_REDIS_IDLE_TIMEOUT_MS', 60_000, { min: 1_000 });
  // Work is only taken over once idle longer than a lock could live unextended.
  if (idleTimeoutMs <= base.lockTtlMs) {
    throw new ConfigError(
      'WORKFLOW_REDIS_IDLE_TIMEOUT_MS',
      `must exceed the lock TTL (${base.lockTtlMs} ms), got ${idleTimeoutMs}`,
    );
  }
  // A slot holds no connection (a batch of executions shares one), so slots
  // are cheap; 64 fills a batch well enough that commits per event stay low
  // (docs/benchmarks.md §10) without one process taking far more of the
  // stream than its peers.
  const concurrency = integer(env, 'WORKFLOW_CONCURRENCY', 64, { min: 1, max: 10_000 });
  return {
    ...base,
    consumerName: optionalText(env, 'POD_NAME') ?? `${os.hostname()}-${process.pid}`,
    // A read fills the free slots at once by default: the notices of one read form one batch.
    batchSize: integer(env, 'WORKFLOW_REDIS_BATCH_SIZE', concurrency, { min: 1, max: 10_000 }),
    idleTimeoutMs,
    workerCount: integer(env, 'WORKFLOW_WORKER_COUNT', 2, { min: 1, max: 64 }),
    concurrency,
    // At least two: one for a batch, one for the relay and the readiness check.
    databasePoolSize: integer(env, 'WORKFLOW_DB_POOL_SIZE', 10, { min: 2, max: 1_000 }),
    drainTimeoutMs: integer(env, 'WORKFLOW_DRAIN_TIMEOUT_MS', 25_000, { min: 0 }),
    snapshotEvery: integer(env, 'WORKFLOW_SNAPSHOT_EVERY', 50, { min: 0 }),
    relayIntervalMs: integer(env, 'WORKFLOW_RELAY_INTERVAL_MS', 1_000, { min: 50, max: 3_600_000 }),
    relayUnpublishedAfterMs: integer(env, 'WORKFLOW_RELAY_UNPUBLISHED_AFTER_MS', 3_000, {
      min: 0,
      max: 86_400_000,
    }),
    relayRepublishAfterMs: integer(env, 'WORKFLOW_RELAY_REPUBLISH_AFTER_MS', 60_000, {
      min: 100,
      max: 86_400_000,
    }),
    settings: loadWorkerSettings(env),
  };
}

/**
 * What the command-line tools need (submit, inspect, verify, dlq, migrate):
 * where the data lives and how the stream is named, without API tokens or
 * worker settings.
 */
export function loadToolConfig(env: Env): CommonConfig {
  return common(env);
}

export function loadApiConfig(env: Env): ApiConfig {
  return {
    ...common(env),
    host: listenAddress(env, 'HOST', '0.0.0.0'),
    tokens: apiTokens(env),
    settings: loadApiSettings(env),
  };
}

/** An IP address to listen on, or localhost; a host name would depend on what DNS says at start. */
function listenAddress(env: Env, name: string, fallback: string): string {
  const value = text(env, name, fallback);
  if (value !== 'localhost' && isIP(value) === 0) {
    throw new ConfigError(
      name,
      'expected an IP address such as 0.0.0.0, 127.0.0.1 or ::, or localhost',
    );
  }
  return value;
}
