import pino, { type Logger } from 'pino';
import type { LogLevel } from './config/config.js';

/*
 * Log fields, the same in every program:
 * - An error goes in `err`, always as text cleaned of credentials:
 *   `logText(error)` (core/error-record), or its stored form
 *   (`storedError`, `<CODE>: <message>`) where the line reports what was
 *   stored. Never the Error object: pino would write its message and stack
 *   as the driver wrote them, credentials included.
 * - Lines about one event carry tenant, executionId and eventId at the top
 *   level (see liftNotice).
 */

/**
 * Lines about one event name it at the top level (eventId, executionId,
 * tenant), so logs can be searched the same way whoever wrote the line.
 * Runtime code that logs a whole `notice` gets its fields lifted here.
 */
function liftNotice(object: Record<string, unknown>): Record<string, unknown> {
  const notice = object.notice;
  if (typeof notice !== 'object' || notice === null) return object;
  const { notice: _omitted, ...rest } = object;
  const fields = notice as { tenant?: unknown; executionId?: unknown; eventId?: unknown };
  return {
    tenant: fields.tenant,
    executionId: fields.executionId,
    ...(fields.eventId === undefined ? {} : { eventId: fields.eventId }),
    ...rest,
  };
}

/** JSON logs on stdout; `component` and the process's identity go on every line. */
export function createLogger(
  level: LogLevel,
  bindings: Record<string, string>,
  destination?: pino.DestinationStream,
): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { ...bindings, pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { log: liftNotice },
  };
  return destination ? pino(options, destination) : pino(options);
}
