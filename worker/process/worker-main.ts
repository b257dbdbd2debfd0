import { loadWorkerConfig } from '../../core/config/config.js';
import type { Env } from '../../core/config/parse.js';
import { exitProcess, runProgram } from '../../core/process/startup.js';
import { loadConfigAndWorkflows } from '../../workflow/startup.js';
import { WorkerProcess } from './worker-process.js';

/**
 * `flowpool worker`: parses the environment once, loads the workflows,
 * starts the worker and leaves the process to the Shutdown (SIGTERM/SIGINT
 * drain, then exit 0). A bad configuration exits 2 with one line naming the
 * variable.
 */
export async function runWorker(env: Env, exit = exitProcess): Promise<void> {
  await runProgram(
    {
      component: 'worker',
      load: () => loadConfigAndWorkflows(() => loadWorkerConfig(env)),
      settings: ({ config }) => ({
        logLevel: config.logLevel,
        port: config.port,
        identity: { workerId: config.consumerName },
      }),
      async start({ config, registry }, logger, shutdown) {
        const worker = new WorkerProcess({ config, registry, logger });
        worker.registerWith(shutdown);
        await worker.start();
      },
    },
    exit,
  );
}
