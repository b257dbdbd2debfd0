/**
 * The names of the stream contract, written once: workers read the stream
 * WORKFLOW_REDIS_STREAM_PREFIX + WORKFLOW_POOL with the consumer group
 * WORKFLOW_REDIS_CONSUMER_GROUP (docs/design.md, Environment). The worker's
 * settings, the client, the operator's CRD and the local mode use these
 * defaults and this pool-name rule; a second copy would let a pool name or
 * a default drift between the side that publishes and the side that reads.
 */

export const DEFAULT_STREAM_PREFIX = 'workflow:events:';
export const DEFAULT_POOL = 'global';
export const DEFAULT_STREAM = `${DEFAULT_STREAM_PREFIX}${DEFAULT_POOL}`;
export const DEFAULT_CONSUMER_GROUP = 'workflow-workers';

/**
 * A pool name (WORKFLOW_POOL; the part of a pool's stream after the last
 * ':'), as a pattern without anchors so the CRD's CEL rule can embed it.
 */
export const POOL_NAME_SOURCE = '[A-Za-z0-9._-]{1,100}';
/** The pool-name rule in words, for error messages. */
export const POOL_NAME_RULE = '1-100 letters, digits, ".", "_" or "-"';

const POOL_NAME = new RegExp(`^${POOL_NAME_SOURCE}$`);

export function isPoolName(value: string): boolean {
  return POOL_NAME.test(value);
}
