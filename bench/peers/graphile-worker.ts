/**
 * A graphile-worker runner doing a flowpool event's equivalent: one
 * exactly-once row update per job. Env: DATABASE_URL, CONCURRENCY.
 */
import { Logger, run } from 'graphile-worker';
import { PEER_APPLY_SQL } from '../lib/seed.js';

const concurrency = Number(process.env.CONCURRENCY ?? 8);
const runner = await run({
  connectionString: process.env.DATABASE_URL,
  concurrency,
  maxPoolSize: concurrency + 2,
  pollInterval: 1_000,
  noHandleSignals: true,
  logger: new Logger(() => () => {}),
  taskList: {
    bench_apply: async (payload, helpers) => {
      const { event, execution } = payload as { event: string; execution: string };
      await helpers.query(PEER_APPLY_SQL, [event, execution]);
    },
  },
});
console.log('ready');
process.on('SIGTERM', async () => {
  await runner.stop();
  process.exit(0);
});
await runner.promise;
