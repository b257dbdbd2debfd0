/**
 * Kubernetes Events about one pool. A Warning is emitted once per episode:
 * again only when its cause changes, or after the problem cleared.
 */
import type { Logger } from 'pino';
import { cleanText, logText } from '../../core/error-record.js';
import type { WorkflowWorkerPool } from '../api/pool.js';
import { poolReference } from '../kube/kube-api.js';
import type { KubeTarget } from '../kube/types.js';
import type { StreamView } from './status.js';

export class PoolNotices {
  /** Warning reasons already reported, with their cause. */
  private readonly warned = new Map<string, string>();

  constructor(
    private readonly kube: Pick<KubeTarget, 'emitEvent'>,
    /** The pool's logger. */
    private readonly log: Logger,
  ) {}

  normal(pool: WorkflowWorkerPool, reason: string, text: string): void {
    this.emit(pool, 'Normal', reason, cleanText(text));
  }

  /** A Warning Event, once per reason until `cause` changes or `cleared(reason)`. */
  warn(pool: WorkflowWorkerPool, reason: string, text: string, cause = text): void {
    if (this.warned.get(reason) === cause) return;
    this.warned.set(reason, cause);
    // Hazard: the text may quote a driver's error, connection string included.
    const cleaned = cleanText(text);
    this.log.warn({ reason }, cleaned);
    this.emit(pool, 'Warning', reason, cleaned);
  }

  /** The problem behind `reason` is over; true if it had been reported. */
  cleared(reason: string): boolean {
    return this.warned.delete(reason);
  }

  /** A Warning when the stream becomes unreadable (once per cause), a Normal Event when it is back. */
  stream(pool: WorkflowWorkerPool, view: StreamView): void {
    if (view.kind === 'unreadable') {
      this.warn(pool, 'StreamUnreachable', `${view.reason}: ${view.message}`, view.reason);
    } else if (view.kind === 'read' && this.cleared('StreamUnreachable')) {
      this.normal(
        pool,
        'StreamReachable',
        `reading ${pool.spec.redis.stream} again: backlog ${view.reading.backlog}`,
      );
    }
  }

  private emit(
    pool: WorkflowWorkerPool,
    type: 'Normal' | 'Warning',
    reason: string,
    text: string,
  ): void {
    // Events are for people; failing to record one must not fail the reconcile.
    this.kube
      .emitEvent({ involvedObject: poolReference(pool), type, reason, message: text })
      .catch((error) =>
        this.log.warn({ reason, err: logText(error) }, 'could not record a Kubernetes Event'),
      );
  }
}
