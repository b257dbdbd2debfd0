/**
 * Workers name their stream as WORKFLOW_REDIS_STREAM_PREFIX + WORKFLOW_POOL
 * (see the Environment contract in docs/design.md), while a pool names the whole
 * stream in spec.redis.stream. The pool's stream is split at its last ':'
 * so that prefix + pool gives the stream back exactly.
 */
import { isPoolName, POOL_NAME_RULE } from '../../core/stream-names.js';
import { PoolSpecError } from './errors.js';

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
        `${POOL_NAME_RULE}, e.g. workflow:events:billing`,
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
  if (cut < 0 || prefix.trim() !== prefix || !isPoolName(pool)) {
    throw new StreamNameError(stream);
  }
  return { prefix, pool };
}
