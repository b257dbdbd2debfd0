/**
 * A BullMQ worker doing a flowpool event's equivalent: one exactly-once row
 * update per job. Env: REDIS_URL, DATABASE_URL, QUEUE, CONCURRENCY.
 */
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { PEER_APPLY_SQL } from '../lib/seed.js';

const concurrency = Number(process.env.CONCURRENCY ?? 8);
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: concurrency });
const worker = new Worker(
  process.env.QUEUE ?? 'bench',
  async (job) => {
    const { event, execution } = job.data as { event: string; execution: string };
    await pool.query(PEER_APPLY_SQL, [event, execution]);
  },
  {
    // BullMQ's own optional load of ioredis fails under ESM; hand it a client.
    connection: new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', {
      maxRetriesPerRequest: null,
    }),
    concurrency,
    removeOnComplete: { count: 0 },
    removeOnFail: { count: 1000 },
  },
);
worker.on('error', (error) => console.error(String(error)));
await worker.waitUntilReady();
await pool.query('select 1');
console.log('ready');
process.on('SIGTERM', async () => {
  await worker.close();
  await pool.end();
  process.exit(0);
});
