import type { TestProject } from 'vitest/node';
import { PostgresServer } from '../../local/postgres-server.js';
import { RedisServer } from '../../local/redis-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
    redisUrl: string;
  }
}

/**
 * Starts one throwaway PostgreSQL and one Redis for the whole run, unless
 * DATABASE_URL / REDIS_URL name servers to use. Each test file then isolates
 * itself with its own database and key prefix (see isolation.ts).
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const given = { database: process.env.DATABASE_URL, redis: process.env.REDIS_URL };
  const [postgres, redis] = await Promise.all([
    given.database ? undefined : PostgresServer.start(),
    given.redis ? undefined : RedisServer.start(),
  ]);
  project.provide('databaseUrl', given.database ?? postgres!.url);
  project.provide('redisUrl', given.redis ?? redis!.url);
  return async () => {
    await Promise.all([postgres?.destroy(), redis?.destroy()]);
  };
}
