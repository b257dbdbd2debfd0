import pino, { type Logger } from 'pino';
import { cleanText, logText } from '../error-record.js';
import type { ConfigError } from '../errors.js';

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
