import pino, { type Logger } from 'pino';
import { loadWorkflows } from '../../workflow/loader.js';
import type { WorkflowRegistry } from '../../workflow/registry.js';
import { cleanText, logText } from '../error-record.js';
import { ConfigError } from '../errors.js';

/** Exit code for configuration the process cannot start with. */
export const EXIT_CONFIG = 2;

/**
 * Reports a configuration error as one JSON log line naming the variable
 * (LOG_LEVEL itself may be the bad value, so this logger has a fixed level).
 */
export function reportConfigError(component: string, error: ConfigError): void {
  pino({ base: { component, pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }).fatal(
    { variable: error.variable },
    `invalid configuration: ${error.message}`,
  );
}

/**
 * A crash the code did not expect: one fatal JSON line instead of a bare
 * stack trace on stderr, then exit 1 so the pod restarts.
 */
export function exitOnCrash(logger: Logger, exit: (code: number) => void): void {
  process.on('uncaughtException', (error) => {
    logger.fatal(
      { err: logText(error), stack: error.stack && cleanText(error.stack) },
      'uncaught exception',
    );
    exit(1);
  });
  process.on('unhandledRejection', (reason) => {
    logger.fatal(
      {
        err: logText(reason),
        stack: reason instanceof Error && reason.stack ? cleanText(reason.stack) : undefined,
      },
      'unhandled promise rejection',
    );
    exit(1);
  });
}

/**
 * Parses a program's configuration and loads its workflows. On a bad value
 * it reports one line naming the variable, exits 2 and returns undefined.
 */
export async function loadConfigAndWorkflows<C extends { workflowsPath: string | undefined }>(
  component: string,
  load: () => C,
  exit: (code: number) => void,
): Promise<{ config: C; registry: WorkflowRegistry } | undefined> {
  try {
    const config = load();
    const registry = await loadWorkflows(config.workflowsPath).catch((error: unknown) => {
      if (error instanceof ConfigError) throw error;
      throw new ConfigError('FLOWPOOL_WORKFLOWS', `could not load: ${logText(error)}`);
    });
    return { config, registry };
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    reportConfigError(component, error);
    exit(EXIT_CONFIG);
    return undefined;
  }
}
