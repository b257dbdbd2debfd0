import pino, { type Logger } from 'pino';
import type { LogLevel } from '../config/config.js';

/** JSON logs on stdout; `component` and the process's identity go on every line. */
export function createLogger(level: LogLevel, bindings: Record<string, string>): Logger {
  return pino({
    level,
    base: { ...bindings, pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}
