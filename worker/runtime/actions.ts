import { ActionFailedError, describeError, LockBusyError } from '../errors.js';
import type { ActionIntent, EventStore, ExecutionRecord } from '../store/event-store.js';
import { declaredAction, type WorkflowDefinition } from '../workflow/definition.js';

export interface ActionRunnerOptions {
  /** An action running longer than this is aborted and counted as a failed attempt. */
  timeoutMs: number;
}

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
    private readonly store: EventStore,
    private readonly options: ActionRunnerOptions,
  ) {}

  /** Runs every pending action of the execution; throws ActionFailedError if any failed. */
  async runPending(
    definition: WorkflowDefinition,
    execution: ExecutionRecord,
    signal: AbortSignal,
  ): Promise<number> {
    const intents = await this.store.pendingActions(execution.tenant, execution.executionId);
    let firstFailure: ActionFailedError | undefined;
    for (const intent of intents) {
      if (signal.aborted) break;
      const failure = await this.runOne(definition, execution, intent, signal);
      firstFailure ??= failure;
    }
    if (firstFailure) throw firstFailure;
    return intents.length;
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
      const error = `action ${intent.actionName} is not declared by ${definition.name}@${definition.version}`;
      await this.store.recordActionAttempt({ ...base, status: 'failed', error });
      return undefined;
    }
    const signal = AbortSignal.any([parentSignal, AbortSignal.timeout(this.options.timeoutMs)]);
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
      await this.store.recordActionAttempt({
        ...base,
        status: 'succeeded',
        result: result ?? null,
      });
      return undefined;
    } catch (error) {
      // Stays pending: the notice is retried with backoff and the action runs again.
      await this.store.recordActionAttempt({
        ...base,
        status: 'pending',
        error: describeError(error),
      });
      // Aborted because the lock was lost: not the action's failure, so it
      // must not count towards dead-lettering.
      if (parentSignal.aborted && parentSignal.reason instanceof LockBusyError)
        throw parentSignal.reason;
      return new ActionFailedError(key, error);
    }
  }
}

function abortable<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
