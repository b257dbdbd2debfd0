import { DEFAULT_WORKER_SETTINGS } from '../../core/config/worker-settings.js';
import { storedError } from '../../core/error-record.js';
import {
  ActionFailedError,
  ActionTimeoutError,
  FlowpoolError,
  LockBusyError,
} from '../../core/errors.js';
import type {
  ActionCursor,
  ActionIntent,
  ActionStore,
  ExecutionRecord,
} from '../../store/event-store.js';
import { declaredAction, type WorkflowDefinition } from '../../workflow/definition.js';

/**
 * Told when a step of a delivery begins, with the time the step may take
 * beyond the usual allowance (an action's timeout), so a watchdog can tell
 * slow work from stuck work.
 */
export type Heartbeat = (extraBudgetMs?: number) => void;

export interface ActionRunnerOptions {
  /** An action running longer than this is aborted and counted as a failed attempt. */
  timeoutMs: number;
  /** Payload bytes one read of pending actions brings into memory (it always brings one). */
  readBytes?: number;
}

const PAGE_SIZE = 100;
const DEFAULT_READ_BYTES = DEFAULT_WORKER_SETTINGS.catchUpReadBytes;

export function actionKey(eventId: string, actionName: string): string {
  return `${eventId}:${actionName}`;
}

/**
 * Runs the actions whose intents committed with their transition. Runs
 * happen outside any transaction and at least once, so each gets the stable
 * key `<eventId>:<actionName>`; outcomes are recorded, and replay never
 * runs an action again because only pending intents are run.
 */
export class ActionRunner {
  constructor(
    private readonly store: ActionStore,
    private readonly options: ActionRunnerOptions,
  ) {}

  /** Runs every pending action of the execution; throws ActionFailedError if any failed. */
  async runPending(
    definition: WorkflowDefinition,
    execution: ExecutionRecord,
    signal: AbortSignal,
    heartbeat: Heartbeat = () => {},
  ): Promise<number> {
    // Paged by their events' payload bytes: intents carry the payloads.
    let after: ActionCursor | undefined;
    let ran = 0;
    let firstFailure: ActionFailedError | undefined;
    for (;;) {
      const intents = await this.store.pendingActions(execution.tenant, execution.executionId, {
        limit: PAGE_SIZE,
        maxBytes: this.options.readBytes ?? DEFAULT_READ_BYTES,
        after,
      });
      for (const intent of intents) {
        if (signal.aborted) break;
        heartbeat(this.options.timeoutMs);
        const failure = await this.runOne(definition, execution, intent, signal);
        heartbeat();
        ran += 1;
        firstFailure ??= failure;
      }
      after = intents.at(-1)?.cursor;
      if (intents.length === 0 || signal.aborted) break;
    }
    if (firstFailure) throw firstFailure;
    return ran;
  }

  private async runOne(
    definition: WorkflowDefinition,
    execution: ExecutionRecord,
    intent: ActionIntent,
    parentSignal: AbortSignal,
  ): Promise<ActionFailedError | undefined> {
    const key = actionKey(intent.eventId, intent.actionName);
    const base = { tenant: intent.tenant, eventId: intent.eventId, actionName: intent.actionName };
    const spec = declaredAction(definition, intent.actionName);
    if (!spec) {
      const error = new FlowpoolError(
        'ACTION_FAILED',
        `action ${intent.actionName} is not declared by ${definition.name}@${definition.version}`,
      );
      await this.store.recordActionAttempt({
        ...base,
        status: 'failed',
        error: storedError(error),
      });
      return undefined;
    }
    const deadline = actionDeadline(parentSignal, key, this.options.timeoutMs);
    const signal = deadline.signal;
    try {
      const result = await abortable(
        spec.run({
          idempotencyKey: key,
          tenant: intent.tenant,
          executionId: intent.executionId,
          eventId: intent.eventId,
          event: intent.eventName,
          payload: intent.payload,
          state: execution.state,
          data: execution.data,
          attempt: intent.attempts + 1,
          signal,
        }),
        signal,
      );
      deadline.clear();
      await this.store.recordActionAttempt({
        ...base,
        status: 'succeeded',
        result: result ?? null,
      });
      return undefined;
    } catch (error) {
      deadline.clear();
      // Aborted because the lock was lost: not the action's failure, so it
      // must not count towards dead-lettering.
      const lockLost = parentSignal.aborted && parentSignal.reason instanceof LockBusyError;
      const failure = new ActionFailedError(key, error);
      // Stays pending: the notice is retried with backoff and the action runs
      // again; once deliveries run out it is recorded as failed with this error.
      await this.store.recordActionAttempt({
        ...base,
        status: 'pending',
        error: storedError(failure),
      });
      if (lockLost) throw parentSignal.reason;
      return failure;
    }
  }
}

/**
 * The signal an action runs under: aborted when the parent is (lock lost)
 * or when its timeout passes. Hazard: AbortSignal.timeout combined through
 * AbortSignal.any is only weakly held on Node 20 and can be garbage-collected
 * before it fires, leaving a hung action running for ever; this timer is
 * held here until `clear`.
 */
function actionDeadline(
  parent: AbortSignal,
  key: string,
  timeoutMs: number,
): { signal: AbortSignal; clear(): void } {
  const controller = new AbortController();
  const onParentAbort = () => controller.abort(parent.reason);
  const timer = setTimeout(
    () => controller.abort(new ActionTimeoutError(key, timeoutMs)),
    timeoutMs,
  );
  if (parent.aborted) onParentAbort();
  else parent.addEventListener('abort', onParentAbort, { once: true });
  return {
    signal: controller.signal,
    clear() {
      clearTimeout(timer);
      parent.removeEventListener('abort', onParentAbort);
    },
  };
}

function abortable<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
