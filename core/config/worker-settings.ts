import { type Env, integer } from './parse.js';

/** The worker's bounds on time and memory, beyond its consumer settings. */
export interface WorkerSettings {
  /** An action running longer is abandoned and counts as a failed attempt. */
  actionTimeoutMs: number;
  /**
   * A running delivery without progress for this long (plus the timeout of
   * the action it runs) is stuck: reported by a metric, a warning and /readyz.
   */
  stuckAfterMs: number;
  /** Bytes of event payloads one catch-up read brings into memory (it always brings one event). */
  catchUpReadBytes: number;
  /** Bytes of folded states kept between deliveries; least recently used go first. */
  stateCacheBytes: number;
  /** Entries the dead-letter stream keeps (approximately); older ones are trimmed. */
  deadLetterMaxLength: number;
}

const MIB = 1_048_576;

export function loadWorkerSettings(env: Env): WorkerSettings {
  return {
    actionTimeoutMs: integer(env, 'WORKFLOW_ACTION_TIMEOUT_MS', 30_000, {
      min: 10,
      max: 86_400_000,
    }),
    stuckAfterMs: integer(env, 'WORKFLOW_STUCK_AFTER_MS', 60_000, { min: 100, max: 86_400_000 }),
    catchUpReadBytes: integer(env, 'WORKFLOW_CATCHUP_READ_BYTES', 2 * MIB, {
      min: 1_024,
      max: 1_024 * MIB,
    }),
    stateCacheBytes: integer(env, 'WORKFLOW_STATE_CACHE_BYTES', 64 * MIB, {
      min: 0,
      max: 16_384 * MIB,
    }),
    deadLetterMaxLength: integer(env, 'WORKFLOW_DLQ_MAX_LENGTH', 100_000, {
      min: 100,
      max: 100_000_000,
    }),
  };
}

export const DEFAULT_WORKER_SETTINGS: Readonly<WorkerSettings> = loadWorkerSettings({});
