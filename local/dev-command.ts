import path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import type { Env } from '../core/config/parse.js';
import { runDev } from './dev.js';
import { MissingServerError } from './postgres-server.js';

function positive(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1)
    throw new InvalidArgumentError('expected a whole number of at least 1');
  return parsed;
}

/** `flowpool dev`: the whole system on this machine. */
export function devCommand(
  env: Env,
  out: (line: string) => void,
  setOutcome: (code: number) => void,
): Command {
  return new Command('dev')
    .description(
      'run PostgreSQL, Redis, the API and an autoscaled pool of local workers on this machine',
    )
    .option('--demo', 'send two bursts of events, show the pool scale, then check and summarise')
    .option('--data-dir <dir>', 'where PostgreSQL keeps its data and the logs go', '.flowpool')
    .option('--max-workers <n>', 'most worker processes the pool may run', positive, 4)
    .option('--burst <n>', 'events per demo burst', positive, 3000)
    .option('--port <n>', 'API port (default: a free one)', positive)
    .action(
      async (options: {
        demo?: boolean;
        dataDir: string;
        maxWorkers: number;
        burst: number;
        port?: number;
      }) => {
        try {
          const code = await runDev(env, {
            demo: options.demo === true,
            dataDir: path.resolve(options.dataDir),
            maxWorkers: options.maxWorkers,
            burst: options.burst,
            port: options.port ?? 0,
            out,
          });
          setOutcome(code);
        } catch (error) {
          if (!(error instanceof MissingServerError)) throw error;
          out(`flowpool dev: ${error.message}`);
          setOutcome(2);
        }
      },
    );
}
