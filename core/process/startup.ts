import pino, { type Logger } from 'pino';
import type { LogLevel } from '../config/config.js';
import { cleanText, logText } from '../error-record.js';
import { ConfigError } from '../errors.js';
import { createLogger } from '../logger.js';
import { Shutdown } from './shutdown.js';

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

/** The default exit of a program: the process's own. */
export const exitProcess = (code: number): void => process.exit(code);

/** What a program is made of, from its configuration to its running parts. */
export interface Program<Loaded> {
  /** Names the program on every log line: api, worker, operator. */
  component: string;
  /**
   * Parses the configuration once (and loads what it names). A ConfigError
   * exits 2 with one line naming the variable.
   */
  load: () => Loaded | Promise<Loaded>;
  /** The log level, the port served on and the process's identity on every line (e.g. workerId). */
  settings: (loaded: Loaded) => {
    logLevel: LogLevel;
    port: number;
    identity?: Record<string, string>;
  };
  /** Starts the program and hands its stop steps to the Shutdown. */
  start: (loaded: Loaded, logger: Logger, shutdown: Shutdown) => Promise<void>;
}

/**
 * Runs a program the way every program runs: configuration parsed once, a
 * JSON logger with its identity on every line, one fatal line and exit 1 on
 * a crash, and the one Shutdown, listening for SIGTERM/SIGINT before the
 * start begins. When the start throws (the port cannot be bound, say) one
 * fatal line names the error and the process exits 1.
 */
export async function runProgram<Loaded>(
  { component, load, settings, start }: Program<Loaded>,
  exit: (code: number) => void = exitProcess,
): Promise<void> {
  let loaded: Loaded;
  try {
    loaded = await load();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    reportConfigError(component, error);
    exit(EXIT_CONFIG);
    return;
  }
  const { logLevel, port, identity = {} } = settings(loaded);
  const logger = createLogger(logLevel, { component, ...identity });
  exitOnCrash(logger, exit);
  const shutdown = new Shutdown(logger, exit);
  shutdown.listen();
  try {
    await start(loaded, logger, shutdown);
  } catch (error) {
    logger.fatal({ err: logText(error), port }, `${component} could not start`);
    exit(1);
    return;
  }
  shutdown.markRunning();
}
