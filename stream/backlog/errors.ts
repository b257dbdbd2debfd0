import { redactText } from '../../core/redact.js';
import type { BacklogErrorCode, BacklogReadError } from './types.js';

/** Thrown inside the reader and turned into a BacklogReadError at its edge. */
export class BacklogError extends Error {
  constructor(
    readonly code: BacklogErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'BacklogError';
  }
}

/**
 * Redis error replies start with an upper-case code ("WRONGTYPE Operation
 * against…", "NOGROUP No such key…"); the code is Redis's stable contract,
 * the words after it are not.
 */
function redisErrorCode(error: unknown): string | undefined {
  if (!(error instanceof Error)) return undefined;
  const first = error.message.split(' ', 1)[0] ?? '';
  return /^[A-Z]{3,}$/.test(first) ? first : undefined;
}

/** "ERR no such key" has only the generic ERR code; its text is what Redis has said since 5.0. */
export function isNoSuchKey(error: unknown): boolean {
  return error instanceof Error && /no such key/i.test(error.message);
}

export function isNoGroup(error: unknown): boolean {
  return redisErrorCode(error) === 'NOGROUP';
}

/** What a client knows about its connection when a command fails. */
export interface ConnectionState {
  /** ioredis's status: 'ready', 'connecting', 'reconnecting', 'end', … */
  status: string;
  /** The last connection failure since the client was last ready. */
  lastError?: Error | undefined;
}

/** Node's system error codes for a failed connection, in words a person can act on. */
const CONNECT_FAILURES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'host name could not be resolved (DNS is failing)',
  ETIMEDOUT: 'no connection within the connect timeout',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection closed while writing',
};

function systemCode(error: Error | undefined): string | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * Why Redis could not be reached. The command's own error (ioredis's
 * "max retries per request", "Connection is closed") never says why; the
 * connection's last failure does, so that is what the message names.
 */
function unavailable(error: Error, connection: ConnectionState | undefined): BacklogReadError {
  const cause = connection?.lastError ?? error;
  const code = systemCode(cause);
  const words =
    code !== undefined && CONNECT_FAILURES[code] !== undefined
      ? CONNECT_FAILURES[code]
      : code?.includes('CERT') || code?.startsWith('ERR_TLS')
        ? 'TLS handshake failed'
        : undefined;
  if (words !== undefined) {
    return {
      code: 'RedisUnavailable',
      message: `cannot connect to Redis: ${words} (${cause.message})`,
    };
  }
  if (cause !== error) {
    return { code: 'RedisUnavailable', message: `cannot connect to Redis: ${cause.message}` };
  }
  const state = connection ? ` (connection ${connection.status})` : '';
  // ioredis's wording for this one points at its option, not at the problem.
  const what =
    error.name === 'MaxRetriesPerRequestError'
      ? 'the command failed and the reconnect did not succeed in time'
      : error.message;
  return { code: 'RedisUnavailable', message: `Redis unavailable: ${what}${state}` };
}

/**
 * Error replies of a Redis that is up but cannot serve anyone right now
 * (still loading its data, stuck in a script, its cluster or primary
 * down): unavailable, like a refused connection, and worth the next poll.
 */
const NOT_SERVING = new Set(['LOADING', 'BUSY', 'MASTERDOWN', 'CLUSTERDOWN', 'TRYAGAIN']);

/**
 * The error of a failed read, as conditions, Events and logs show it. The
 * text comes from Redis and the client; it passes through redactText in
 * case either quotes a URL or a password (status is readable by everyone
 * who may read the pool).
 */
export function toReadError(error: unknown, connection?: ConnectionState): BacklogReadError {
  const described = describeReadError(error, connection);
  return { code: described.code, message: redactText(described.message) };
}

function describeReadError(error: unknown, connection?: ConnectionState): BacklogReadError {
  if (error instanceof BacklogError) return { code: error.code, message: error.message };
  if (!(error instanceof Error)) return { code: 'RedisUnavailable', message: String(error) };
  const code = redisErrorCode(error);
  switch (code) {
    case undefined:
      // No error reply: the client gave up on the connection.
      return unavailable(error, connection);
    case 'EXECABORT': {
      // A MULTI refused as a whole: the reason is the first queued command's error.
      const first = (error as { previousErrors?: unknown[] }).previousErrors?.[0];
      return first instanceof Error ? describeReadError(first, connection) : refused(error);
    }
    case 'WRONGTYPE':
      return { code: 'WrongType', message: `the key is not a stream: ${error.message}` };
    case 'WRONGPASS':
    case 'NOAUTH':
      return {
        code: 'AuthenticationFailed',
        message: `Redis refused the credentials of the URL: ${error.message}`,
      };
    case 'NOPERM':
      return {
        code: 'PermissionDenied',
        message: `the Redis user may not run XINFO, XRANGE or EVAL on the stream: ${error.message}`,
      };
    default:
      return NOT_SERVING.has(code) ? unavailable(error, connection) : refused(error);
  }
}

/** An error reply: Redis was reached, so the connection is not to blame. */
function refused(error: Error): BacklogReadError {
  return { code: 'CommandFailed', message: `Redis refused the command: ${error.message}` };
}
