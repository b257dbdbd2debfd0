import type { FastifyBaseLogger } from 'fastify';
import { logText } from '../core/error-record.js';
import { BadInputError, type ErrorCode, FlowpoolError } from '../core/errors.js';
import { TooLargeError } from '../core/limits.js';
import { redactText } from '../core/redact.js';
import { isUnavailable } from '../store/unavailable.js';
import type { Readiness } from './readiness.js';

/** The JSON body of every error answer. */
export interface ErrorBody {
  error: { code: string; message: string; field?: string };
}

export interface HttpError {
  status: number;
  body: ErrorBody;
}

/** Status for each error code flowpool raises on purpose; anything unlisted is a bug (500). */
const STATUS_BY_CODE: Partial<Record<ErrorCode, number>> = {
  BAD_INPUT: 400,
  NOT_FOUND: 404,
  EXECUTION_EXISTS: 409,
  IDEMPOTENCY_CONFLICT: 409,
  NOT_DEAD: 409,
  // At enqueue: the execution runs a workflow version this API was not given (a deploy in
  // progress, or one started elsewhere). Retrying here will not help until the API has it.
  UNKNOWN_WORKFLOW: 409,
  UNAVAILABLE: 503,
};

/** fastify's own request errors (body parsing, size, media type), by their stable codes. */
const FRAMEWORK_CODES: Record<string, { status: number; code: string }> = {
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'BAD_JSON' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: 'BAD_JSON' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: 'BAD_REQUEST' },
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'BODY_TOO_LARGE' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
  FST_ERR_CTP_INVALID_TYPE: { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
  FST_ERR_BAD_URL: { status: 400, code: 'BAD_URL' },
  FST_ERR_MAX_PARAM_LENGTH: { status: 404, code: 'NOT_FOUND' },
};

const FRAMEWORK_MESSAGES: Record<string, string> = {
  BAD_JSON: 'the body is not valid JSON',
  BAD_REQUEST: 'the request is malformed',
  BODY_TOO_LARGE: 'the body is larger than 1 MiB',
  UNSUPPORTED_MEDIA_TYPE: 'send the body as application/json',
  BAD_URL: 'the URL is not valid',
  NOT_FOUND: 'no such resource',
};

/** A request the API refuses for a reason of its own (not a runtime error), with its status. */
export class RequestRefusedError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'RequestRefusedError';
  }
}

export function errorBody(code: string, message: string, field?: string): ErrorBody {
  return { error: field === undefined ? { code, message } : { code, message, field } };
}

export const UNAVAILABLE: HttpError = {
  status: 503,
  body: errorBody('UNAVAILABLE', 'PostgreSQL or Redis is unavailable; try again shortly'),
};

export const INTERNAL: HttpError = {
  status: 500,
  body: errorBody('INTERNAL', 'internal error'),
};

/**
 * Maps an error to its answer by class and code, never by message text.
 * Returns undefined for errors that are neither deliberate nor a known
 * outage; the caller decides between 503 and 500 for those.
 */
export function toHttpError(error: unknown): HttpError | undefined {
  if (error instanceof TooLargeError) {
    return { status: 413, body: errorBody(error.limitCode, error.message, error.field) };
  }
  if (error instanceof BadInputError) {
    // fastify overwrites `code` on validation errors; the class says what it is.
    return { status: 400, body: errorBody('BAD_INPUT', error.message, error.field) };
  }
  if (error instanceof RequestRefusedError) {
    return { status: error.status, body: errorBody(error.code, error.message) };
  }
  if (error instanceof FlowpoolError) {
    const status = STATUS_BY_CODE[error.code];
    if (status === 503) return UNAVAILABLE;
    if (status !== undefined) return { status, body: errorBody(error.code, error.message) };
    return undefined;
  }
  if (isUnavailable(error)) return UNAVAILABLE;
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string') {
    const known = FRAMEWORK_CODES[code];
    if (known) {
      return {
        status: known.status,
        body: errorBody(known.code, FRAMEWORK_MESSAGES[known.code] ?? 'bad request'),
      };
    }
  }
  // Any other client error fastify raises on its own carries a 4xx statusCode.
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return { status, body: errorBody('BAD_REQUEST', 'the request is malformed') };
  }
  return undefined;
}

/**
 * The answer to an error of a request (or of one item of a batch). Neither
 * deliberate nor a known outage: if a dependency is down, that is the
 * likelier cause, so 503; with both up it is a bug, so 500. A 5xx is logged
 * (as `failed`), never sent; see publicAnswer.
 */
export async function answerTo(
  error: unknown,
  readiness: Readiness,
  log: FastifyBaseLogger,
  failed: string,
): Promise<HttpError> {
  let answer = toHttpError(error);
  if (answer === undefined) {
    const report = await readiness().catch(() => ({ ready: false }));
    answer = report.ready ? INTERNAL : UNAVAILABLE;
  }
  if (answer.status >= 500) log.error({ err: logText(error), status: answer.status }, failed);
  return answer;
}

/**
 * The answer as it may leave the process. A 5xx never carries text from an
 * error (only the fixed text of its status); a 4xx message is redacted, as
 * defence in depth for text that quotes a caller's or a driver's input.
 */
export function publicAnswer(answer: HttpError): HttpError {
  const { code, message, field } = answer.body.error;
  if (answer.status >= 500) {
    const fixed = answer.status === 503 ? UNAVAILABLE : INTERNAL;
    return { status: answer.status, body: errorBody(code, fixed.body.error.message) };
  }
  return { status: answer.status, body: errorBody(code, redactText(message), field) };
}
