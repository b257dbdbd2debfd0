import { FlowpoolError, UnavailableError } from '../core/errors.js';
import { isConnectionFailure } from './rows.js';

/** Node's socket-level error codes that mean "the server is not there" (not "the query was wrong"). */
const SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/** Error classes raised by the clients when their server cannot be reached. */
const UNAVAILABLE_CLASSES = new Set([
  // knex: no pooled connection within acquireConnectionTimeout
  'KnexTimeoutError',
  // ioredis: the command was retried on reconnects until maxRetriesPerRequest ran out
  'MaxRetriesPerRequestError',
  'ClusterAllFailedError',
]);

/** SQLSTATE: connection exceptions (class 08), shutdown in progress, too many connections. */
function isUnavailableSqlState(code: string): boolean {
  return (
    /^08[0-9A-Z]{3}$/.test(code) ||
    code === '57P01' ||
    code === '57P02' ||
    code === '57P03' ||
    code === '53300'
  );
}

/**
 * True when `error` says PostgreSQL or Redis cannot be reached right now.
 * Decided by error class and code (walking `cause` and AggregateError's
 * `errors`), never by message text.
 */
export function isUnavailable(error: unknown, depth = 0): boolean {
  if (typeof error !== 'object' || error === null || depth > 5) return false;
  if (error instanceof FlowpoolError) return error.code === 'UNAVAILABLE';
  if (isConnectionFailure(error)) return true;
  const { code, name, cause, errors } = error as {
    code?: unknown;
    name?: unknown;
    cause?: unknown;
    errors?: unknown;
  };
  if (typeof code === 'string' && (SOCKET_CODES.has(code) || isUnavailableSqlState(code))) {
    return true;
  }
  if (typeof name === 'string' && UNAVAILABLE_CLASSES.has(name)) return true;
  if (Array.isArray(errors) && errors.some((inner) => isUnavailable(inner, depth + 1))) return true;
  return cause !== undefined && isUnavailable(cause, depth + 1);
}

/** Rethrows connection failures as UnavailableError (code UNAVAILABLE); anything else as it is. */
export function asUnavailable(error: unknown, what: string): unknown {
  if (error instanceof FlowpoolError || !isUnavailable(error)) return error;
  return new UnavailableError(what, error);
}
