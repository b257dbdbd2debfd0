/**
 * Workers name their stream as WORKFLOW_REDIS_STREAM_PREFIX + WORKFLOW_POOL
 * (see the Environment contract in docs/design.md), while a pool names the whole
 * stream in spec.redis.stream. The pool's stream is split at its last ':'
 * so that prefix + pool gives the stream back exactly.
 */
import { PoolSpecError } from './errors.js';

/** What the worker accepts as WORKFLOW_POOL (core/config/config.ts checks the same). */
export const WORKER_POOL_PATTERN = /^[A-Za-z0-9._-]{1,100}$/;

export interface StreamParts {
  /** Up to and including the last ':', e.g. `workflow:events:`. */
  prefix: string;
  /** What follows, e.g. `global`. */
  pool: string;
}

/** Why a stream cannot be passed to workers as prefix + pool. */
export class StreamNameError extends PoolSpecError {
  constructor(readonly stream: string) {
    super(
      'InvalidStream',
      `spec.redis.stream "${stream}" cannot be passed to workers, which read ` +
        'WORKFLOW_REDIS_STREAM_PREFIX + WORKFLOW_POOL: name it "<prefix>:<pool>" where <pool> is ' +
        '1-100 letters, digits, ".", "_" or "-", e.g. workflow:events:billing',
    );
    this.name = 'StreamNameError';
  }
}

/**
 * Splits `stream` into the worker's prefix and pool. The prefix must not be
 * empty (an empty variable means "use the default" to the worker), so a
 * stream without ':' cannot be expressed and throws StreamNameError.
 */
export function splitStream(stream: string): StreamParts {
  const cut = stream.lastIndexOf(':');
  const prefix = stream.slice(0, cut + 1);
  const pool = stream.slice(cut + 1);
  if (cut < 0 || prefix.trim() !== prefix || !WORKER_POOL_PATTERN.test(pool)) {
    throw new StreamNameError(stream);
  }
  return { prefix, pool };
}
