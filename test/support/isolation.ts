import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import knexFactory, { type Knex } from 'knex';
import pg from 'pg';
import { inject } from 'vitest';

/** A short random token for naming per-test databases and key prefixes. */
export function uniqueSuffix(): string {
  return randomBytes(5).toString('hex');
}

/** The shared servers' URLs (throwaway, or DATABASE_URL / REDIS_URL). */
export function sharedServers(): { databaseUrl: string; redisUrl: string } {
  return { databaseUrl: inject('databaseUrl'), redisUrl: inject('redisUrl') };
}

export interface TestRedis {
  url: string;
  /** Every key this test writes starts with this prefix. */
  prefix: string;
  redis: Redis;
  close(): Promise<void>;
}

/** A Redis connection and a key prefix of this test's own. */
export async function testRedis(url = sharedServers().redisUrl): Promise<TestRedis> {
  const prefix = `t${uniqueSuffix()}:`;
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  return {
    url,
    prefix,
    redis,
    async close() {
      const keys = await redis.keys(`${prefix}*`).catch(() => [] as string[]);
      if (keys.length > 0) await redis.del(...keys).catch(() => 0);
      redis.disconnect();
    },
  };
}

export interface TestDatabase {
  url: string;
  knex: Knex;
  close(): Promise<void>;
}

function databaseUrlFor(baseUrl: string, database: string): string {
  const url = new URL(baseUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

/** A fresh, empty PostgreSQL database of this test's own, dropped on close. */
export async function testDatabase(baseUrl = sharedServers().databaseUrl): Promise<TestDatabase> {
  const name = `flowpool_t_${uniqueSuffix()}`;
  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = databaseUrlFor(baseUrl, name);
  const knex = knexFactory({ client: 'pg', connection: url, pool: { min: 0, max: 10 } });
  return {
    url,
    knex,
    async close() {
      await knex.destroy();
      const cleanup = new pg.Client({ connectionString: baseUrl });
      await cleanup.connect();
      await cleanup.query(`drop database if exists ${name} with (force)`);
      await cleanup.end();
    },
  };
}
