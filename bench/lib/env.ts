/**
 * The bench's shared environment: one throwaway PostgreSQL and one Redis
 * (or DATABASE_URL / REDIS_URL when set), migrated, with a knex pool and a
 * Redis connection for the driver itself.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import knexFactory, { type Knex } from 'knex';
import { PostgresServer } from '../../local/postgres-server.js';
import { RedisServer } from '../../local/redis-server.js';
import { migrateLatest } from '../../migrations/index.js';

/** The repository root (this file runs from dist/bench/lib). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const CLI = path.join(ROOT, 'dist/cli/main.js');
export const DIST_BENCH = path.join(ROOT, 'dist/bench');

export interface BenchEnv {
  databaseUrl: string;
  redisUrl: string;
  redisPort: number;
  pgPort: number;
  knex: Knex;
  redis: Redis;
  close(): Promise<void>;
}

export async function startEnv(): Promise<BenchEnv> {
  // Durable by default (fsync and synchronous_commit on), as production runs;
  // BENCH_FSYNC=off for the figures without commit flushes.
  const durable = process.env.BENCH_FSYNC !== 'off';
  const pg = process.env.DATABASE_URL ? undefined : await PostgresServer.start({ durable });
  const rs = process.env.REDIS_URL ? undefined : await RedisServer.start();
  const databaseUrl = process.env.DATABASE_URL ?? pg!.url;
  const redisUrl = process.env.REDIS_URL ?? rs!.url;
  const knex = knexFactory({ client: 'pg', connection: databaseUrl, pool: { min: 1, max: 20 } });
  const redis = new Redis(redisUrl);
  await migrateLatest(knex);
  return {
    databaseUrl,
    redisUrl,
    redisPort: Number(new URL(redisUrl).port || 6379),
    pgPort: Number(new URL(databaseUrl).port || 5432),
    knex,
    redis,
    async close() {
      redis.disconnect();
      await knex.destroy();
      await pg?.destroy();
      await rs?.destroy();
    },
  };
}

function run(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
  } catch {
    return 'unknown';
  }
}

/** What the figures were measured on. */
export async function describeMachine(env?: BenchEnv): Promise<Record<string, string | number>> {
  const cpuinfo = fs.existsSync('/proc/cpuinfo') ? fs.readFileSync('/proc/cpuinfo', 'utf8') : '';
  const model = /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? 'unknown';
  const machine: Record<string, string | number> = {
    nproc: os.availableParallelism(),
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    cpuModel: model,
    kernel: os.release(),
    node: process.version,
    redis: run('redis-server', ['--version']).replace(/^Redis server /, ''),
  };
  if (env) {
    const version = await env.knex.raw('show server_version');
    machine.postgres = String(version.rows[0].server_version);
    const settings = await env.knex.raw(
      `select name, setting from pg_settings where name in ('fsync','synchronous_commit','full_page_writes','shared_buffers')`,
    );
    machine.postgresSettings = settings.rows
      .map((r: { name: string; setting: string }) => `${r.name}=${r.setting}`)
      .join(' ');
  }
  return machine;
}

/** Counters that tell how much work a run cost the servers. */
export interface ServerCounters {
  commits: number;
  rollbacks: number;
  tupFetched: number;
  redisCalls: number;
  /** Rows updated in workflow_executions: one per committed flowpool batch (the fence). */
  executionUpdates: number;
}

export async function serverCounters(env: BenchEnv): Promise<ServerCounters> {
  // Statistics reach pg_stat_database when a backend is idle for a moment.
  await env.knex.raw('select pg_stat_clear_snapshot()');
  const db = await env.knex.raw(
    `select xact_commit, xact_rollback, tup_fetched from pg_stat_database where datname = current_database()`,
  );
  const info = await env.redis.info('commandstats');
  const tables = await env.knex.raw(
    `select coalesce(sum(n_tup_upd), 0) as upd from pg_stat_user_tables where relname = 'workflow_executions'`,
  );
  let calls = 0;
  for (const m of info.matchAll(/calls=(\d+)/g)) calls += Number(m[1]);
  return {
    commits: Number(db.rows[0].xact_commit),
    rollbacks: Number(db.rows[0].xact_rollback),
    tupFetched: Number(db.rows[0].tup_fetched),
    redisCalls: calls,
    executionUpdates: Number(tables.rows[0].upd),
  };
}

export function counterDelta(a: ServerCounters, b: ServerCounters): ServerCounters {
  return {
    commits: b.commits - a.commits,
    rollbacks: b.rollbacks - a.rollbacks,
    tupFetched: b.tupFetched - a.tupFetched,
    redisCalls: b.redisCalls - a.redisCalls,
    executionUpdates: b.executionUpdates - a.executionUpdates,
  };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
