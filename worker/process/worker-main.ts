import { loadWorkerConfig } from '../../core/config/config.js';
import type { Env } from '../../core/config/parse.js';
import { logText } from '../../core/error-record.js';
import { createLogger } from '../../core/logger.js';
import { Shutdown } from '../../core/process/shutdown.js';
import { exitOnCrash } from '../../core/process/startup.js';
import { loadConfigAndWorkflows } from '../../workflow/startup.js';
import { WorkerProcess } from './worker-process.js';

/**
 * `flowpool worker`: parses the environment once, loads the workflows,
 * starts the worker and leaves the process to the Shutdown (SIGTERM/SIGINT
 * drain, then exit 0). A bad configuration exits 2 with one line naming the
 * variable.
 */
export async function runWorker(
  env: Env,
  exit: (code: number) => void = (code) => process.exit(code),
): Promise<void> {
  const loaded = await loadConfigAndWorkflows('worker', () => loadWorkerConfig(env), exit);
  if (!loaded) return;
  const { config, registry } = loaded;
  const logger = createLogger(config.logLevel, {
    component: 'worker',
    workerId: config.consumerName,
  });
  exitOnCrash(logger, exit);
  const shutdown = new Shutdown(logger, exit);
  shutdown.listen();
  const worker = new WorkerProcess({ config, registry, logger });
  worker.registerWith(shutdown);
  try {
    await worker.start();
  } catch (error) {
    // The HTTP port could not be bound (taken, or not allowed).
    logger.fatal({ err: logText(error), port: config.port }, 'worker could not start');
    exit(1);
    return;
  }
  shutdown.markRunning();
}
