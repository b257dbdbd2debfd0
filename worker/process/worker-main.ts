import { loadWorkerConfig } from '../config/config.js';
import type { Env } from '../config/parse.js';
import { ConfigError, describeError } from '../errors.js';
import { createLogger } from '../observability/logger.js';
import { loadWorkflows } from '../workflow/loader.js';
import { Shutdown } from './shutdown.js';
import { EXIT_CONFIG, exitOnCrash, reportConfigError } from './startup.js';
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
  let config: ReturnType<typeof loadWorkerConfig>;
  try {
    config = loadWorkerConfig(env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    reportConfigError('worker', error);
    exit(EXIT_CONFIG);
    return;
  }
  const logger = createLogger(config.logLevel, {
    component: 'worker',
    workerId: config.consumerName,
  });
  let registry: Awaited<ReturnType<typeof loadWorkflows>>;
  try {
    registry = await loadWorkflows(config.workflowsPath);
  } catch (error) {
    reportConfigError(
      'worker',
      error instanceof ConfigError
        ? error
        : new ConfigError('FLOWPOOL_WORKFLOWS', `could not load: ${describeError(error)}`),
    );
    exit(EXIT_CONFIG);
    return;
  }
  exitOnCrash(logger, exit);
  const shutdown = new Shutdown(logger, exit);
  shutdown.listen();
  const worker = new WorkerProcess({ config, registry, logger });
  worker.registerWith(shutdown);
  try {
    await worker.start();
  } catch (error) {
    // The HTTP port could not be bound (taken, or not allowed).
    logger.fatal({ err: describeError(error), port: config.port }, 'worker could not start');
    exit(1);
    return;
  }
  shutdown.markRunning();
}
