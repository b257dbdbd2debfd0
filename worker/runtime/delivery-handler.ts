import type { Logger } from 'pino';
import { cleanText, storedError } from '../../core/error-record.js';
import {
  ActionFailedError,
  FencedError,
  LockBusyError,
  PoisonNoticeError,
  UnknownWorkflowError,
  WorkflowCodeError,
} from '../../core/errors.js';
import { backoffMs } from '../../engine/backoff.js';
import type { WorkflowService } from '../../engine/workflow-service.js';
import type { DeadCulprit, FailureStore } from '../../store/event-store.js';
import {
  type Delivery,
  type Notice,
  parseNotice,
  type StreamTransport,
} from '../../stream/transport.js';
import { declaredAction } from '../../workflow/definition.js';
import type { WorkflowRegistry } from '../../workflow/registry.js';
import type { Heartbeat } from './actions.js';
import type { ExecutionProcessor, ProcessResult } from './processor.js';

export interface DeliveryOptions {
  workerId: string;
  maxDeliveries: number;
  retryBaseMs: number;
  retryMaxMs: number;
  /** Delay before trying again when another worker holds the execution. */
  busyRetryMs: number;
}

/** What became of one delivery; every branch has already acked, requeued or dead-lettered it. */
export type DeliveryOutcome =
  | { kind: 'done'; notice: Notice; result: ProcessResult }
  | { kind: 'busy'; notice: Notice }
  | { kind: 'retry'; notice: Notice; counted: boolean; error: string; deliveries: number }
  | { kind: 'dead'; notice: Notice | undefined; error: string };

/**
 * Decides the fate of a delivery: ack after the work committed, retry with
 * backoff, or dead-letter. Infrastructure outages and lock contention do not
 * count as deliveries, so a PostgreSQL restart never dead-letters good work.
 */
export class DeliveryHandler {
  constructor(
    private readonly processor: ExecutionProcessor,
    private readonly store: FailureStore,
    private readonly transport: StreamTransport,
    private readonly registry: WorkflowRegistry,
    private readonly service: WorkflowService,
    private readonly options: DeliveryOptions,
    private readonly logger: Logger,
  ) {}

  /**
   * Errors leave here in their stored form (`<CODE>: <cleaned message>`):
   * in PostgreSQL, in stream fields, in logs and in the outcome.
   */
  async handle(delivery: Delivery, heartbeat?: Heartbeat): Promise<DeliveryOutcome> {
    const notice = parseNotice(delivery.fields);
    if (!notice)
      return this.bury(
        delivery,
        undefined,
        storedError(
          new PoisonNoticeError(
            `malformed notice: fields ${JSON.stringify(delivery.fields).slice(0, 200)}`,
          ),
        ),
      );
    if (delivery.deliveries > this.options.maxDeliveries) {
      return this.bury(delivery, notice, exhausted(delivery));
    }
    let result: ProcessResult;
    try {
      result = await this.processor.process(notice, heartbeat);
    } catch (error) {
      return this.afterFailure(delivery, notice, error);
    }
    // Ack only now: the transitions committed and the actions ran, so a crash
    // before this line redelivers the notice and the catch-up finds it done.
    await this.transport.ack([delivery.id]);
    return { kind: 'done', notice, result };
  }

  private async afterFailure(
    delivery: Delivery,
    notice: Notice,
    error: unknown,
  ): Promise<DeliveryOutcome> {
    const message = storedError(error);
    if (error instanceof LockBusyError || error instanceof FencedError) {
      await this.requeue(delivery, delivery.deliveries - 1, this.options.busyRetryMs, message);
      return { kind: 'busy', notice };
    }
    if (error instanceof PoisonNoticeError) return this.bury(delivery, notice, message);
    // A worker that lacks the execution's workflow version (an older image
    // during a rolling deploy) is not the event's fault: leave it for a
    // worker that has it, without counting a delivery.
    if (error instanceof UnknownWorkflowError || (await this.infrastructureDown())) {
      await this.requeue(
        delivery,
        delivery.deliveries - 1,
        this.delayFor(delivery.deliveries),
        message,
      ).catch(() => {});
      return {
        kind: 'retry',
        notice,
        counted: false,
        error: message,
        deliveries: delivery.deliveries - 1,
      };
    }
    if (notice.eventId)
      await this.store.recordFailure(notice.tenant, notice.eventId, this.options.workerId, message);
    if (delivery.deliveries >= this.options.maxDeliveries)
      return this.bury(delivery, notice, message, culpritOf(error));
    await this.requeue(delivery, delivery.deliveries, this.delayFor(delivery.deliveries), message);
    return {
      kind: 'retry',
      notice,
      counted: true,
      error: message,
      deliveries: delivery.deliveries,
    };
  }

  private delayFor(deliveries: number): number {
    return backoffMs(deliveries, this.options.retryBaseMs, this.options.retryMaxMs);
  }

  private async requeue(
    delivery: Delivery,
    deliveries: number,
    delayMs: number,
    error: string,
  ): Promise<void> {
    // A delay, not a time: the retry's time is set on Redis's clock, which
    // every worker reads alike (see StreamConsumer's clock offset).
    await this.transport.requeue(delivery, { deliveries, delayMs, error });
  }

  private async infrastructureDown(): Promise<boolean> {
    try {
      await Promise.all([this.store.ping(), this.transport.ping()]);
      return false;
    } catch {
      return true;
    }
  }

  /** Records the failure in PostgreSQL first, then moves the notice to the dead-letter stream. */
  private async bury(
    delivery: Delivery,
    notice: Notice | undefined,
    error: string,
    culprit: DeadCulprit = { kind: 'unknown' },
  ): Promise<DeliveryOutcome> {
    if (notice) {
      const marking = await this.store.markDead(notice, error, culprit);
      // The notice goes to the dead-letter stream even when the feedback
      // cannot be enqueued: the failure is recorded in PostgreSQL either way.
      await this.feedBackFailures(delivery, notice, marking.failedActions, error).catch(
        (feedbackError: unknown) =>
          this.logger.error(
            { notice, err: storedError(feedbackError) },
            'could not feed an action failure back into its workflow',
          ),
      );
    }
    await this.transport.deadLetter(delivery, error);
    this.logger.warn(
      { notice, deliveries: delivery.deliveries, err: error },
      'notice dead-lettered',
    );
    return { kind: 'dead', notice, error };
  }

  private async feedBackFailures(
    delivery: Delivery,
    notice: Notice,
    failed: ReadonlyArray<{ eventId: string; actionName: string }>,
    error: string,
  ): Promise<void> {
    if (failed.length === 0) return;
    const execution = await this.store.getExecution(notice.tenant, notice.executionId);
    if (!execution) return;
    const definition = this.registry.get(execution.workflowName, execution.workflowVersion);
    for (const { eventId, actionName } of failed) {
      const onFailure = declaredAction(definition, actionName)?.onFailure;
      if (!onFailure) continue;
      await this.service.enqueueEvent({
        tenant: notice.tenant,
        executionId: notice.executionId,
        event: onFailure,
        payload: { action: actionName, eventId, error },
        // One feedback per burial: the buried entry's id differs after a
        // dead-letter retry, so a second failure feeds back a second time.
        idempotencyKey: `${eventId}:${actionName}:failed:${delivery.id}`,
      });
    }
  }
}

/**
 * The error of a notice that ran out of deliveries: its last error (a
 * worker that died holding it leaves none), with the count.
 */
function exhausted(delivery: Delivery): string {
  const last = delivery.lastError ? cleanText(delivery.lastError) : 'INTERNAL: no error recorded';
  return `${last} (after ${delivery.deliveries - 1} deliveries)`;
}

/** What the last failure says about which part of the execution is to blame. */
function culpritOf(error: unknown): DeadCulprit {
  if (error instanceof WorkflowCodeError && error.eventId !== undefined)
    return { kind: 'event', eventId: error.eventId };
  if (error instanceof ActionFailedError) return { kind: 'actions' };
  return { kind: 'unknown' };
}
