import { LockBusyError, PoisonNoticeError } from '../errors.js';
import type { ExecutionLock, Lease } from '../lock/execution-lock.js';
import type {
  AppliedBatch,
  EventOutcome,
  EventRecord,
  EventStore,
  ExecutionRecord,
} from '../store/event-store.js';
import type { Notice } from '../stream/transport.js';
import type { WorkflowDefinition, WorkflowState } from '../workflow/definition.js';
import type { WorkflowRegistry } from '../workflow/registry.js';
import type { ActionRunner } from './actions.js';
import { decide, replayExecution } from './replay.js';

export interface ProcessorOptions {
  workerId: string;
  /** Events applied per transaction. */
  batchSize: number;
  /** A snapshot is written whenever applied_seq crosses a multiple of this. */
  snapshotEvery: number;
  /** Test seam: runs inside the commit transaction just before the fence. */
  beforeFence?: (batch: AppliedBatch) => Promise<void>;
}

export interface ProcessResult {
  applied: number;
  rejected: number;
  /** Events read from the log to rebuild state before applying. */
  eventsReplayed: number;
  actionsRun: number;
  blocked: boolean;
  /** Per applied/rejected event: what was decided (for metrics and logs). */
  outcomes: EventOutcome[];
}

export function lockResource(notice: Notice): string {
  return `${notice.tenant}:${notice.executionId}`;
}

/**
 * Applies every committed, unapplied event of one execution in seq order:
 * idempotent catch-up, so a duplicate or late notice simply finds nothing to do.
 */
export class ExecutionProcessor {
  constructor(
    private readonly store: EventStore,
    private readonly registry: WorkflowRegistry,
    private readonly lock: ExecutionLock,
    private readonly actions: ActionRunner,
    private readonly options: ProcessorOptions,
  ) {}

  async process(notice: Notice): Promise<ProcessResult> {
    return this.lock.withLock(lockResource(notice), (lease) => this.catchUp(notice, lease));
  }

  private async catchUp(notice: Notice, lease: Lease): Promise<ProcessResult> {
    const result: ProcessResult = {
      applied: 0,
      rejected: 0,
      eventsReplayed: 0,
      actionsRun: 0,
      blocked: false,
      outcomes: [],
    };
    let execution = await this.load(notice);
    const definition = this.registry.get(execution.workflowName, execution.workflowVersion);
    let current: WorkflowState | undefined;
    for (;;) {
      if (execution.status === 'blocked') {
        result.blocked = true;
        break;
      }
      const waiting = await this.store.unappliedEvents(
        notice.tenant,
        notice.executionId,
        execution.appliedSeq,
        this.options.batchSize,
      );
      const runnable = contiguousPending(waiting, execution.appliedSeq);
      if (runnable.length === 0) {
        result.blocked = waiting[0]?.status === 'dead';
        break;
      }
      if (!current) {
        const replayed = await replayExecution(this.store, definition, execution);
        result.eventsReplayed += replayed.eventsRead;
        current = replayed;
      }
      const batch = this.decideBatch(definition, execution, current, runnable);
      throwIfLost(lease, notice);
      await this.store.commitBatch(
        batch,
        this.options.beforeFence && (() => this.options.beforeFence!(batch)),
      );
      tally(result, batch.outcomes);
      current = { state: batch.state, data: batch.data };
      execution = {
        ...execution,
        appliedSeq: runnable.at(-1)!.seq,
        state: batch.state,
        data: batch.data,
        status: batch.status,
      };
      if (waiting.length < this.options.batchSize) break;
    }
    result.actionsRun = await this.actions.runPending(definition, execution, lease.signal);
    return result;
  }

  private async load(notice: Notice): Promise<ExecutionRecord> {
    const execution = await this.store.getExecution(notice.tenant, notice.executionId);
    if (!execution)
      throw new PoisonNoticeError(
        `unknown execution ${notice.executionId} of tenant ${notice.tenant}`,
      );
    return execution;
  }

  private decideBatch(
    definition: WorkflowDefinition,
    execution: ExecutionRecord,
    start: WorkflowState,
    events: readonly EventRecord[],
  ): AppliedBatch {
    let current = start;
    const outcomes: EventOutcome[] = [];
    for (const event of events) {
      const step = decide(definition, current, event);
      if (step.kind === 'applied') {
        outcomes.push({ eventId: event.eventId, seq: event.seq, ...step });
        current = { state: step.toState, data: step.data };
      } else {
        outcomes.push({ eventId: event.eventId, seq: event.seq, ...step });
      }
    }
    const lastSeq = events.at(-1)!.seq;
    const every = this.options.snapshotEvery;
    const crossed =
      every > 0 && Math.floor(lastSeq / every) > Math.floor(execution.appliedSeq / every);
    return {
      tenant: execution.tenant,
      executionId: execution.executionId,
      expectedSeq: execution.appliedSeq,
      outcomes,
      state: current.state,
      data: current.data,
      status: definition.finalStates.includes(current.state) ? 'completed' : 'active',
      snapshot: crossed ? { seq: lastSeq, state: current.state, data: current.data } : undefined,
      workerId: this.options.workerId,
    };
  }
}

/** The pending events that directly follow applied_seq, without gaps. */
function contiguousPending(events: readonly EventRecord[], appliedSeq: number): EventRecord[] {
  const runnable: EventRecord[] = [];
  let expected = appliedSeq + 1;
  for (const event of events) {
    if (event.seq !== expected || event.status !== 'pending') break;
    runnable.push(event);
    expected += 1;
  }
  return runnable;
}

function tally(result: ProcessResult, outcomes: readonly EventOutcome[]): void {
  for (const outcome of outcomes) {
    if (outcome.kind === 'applied') result.applied += 1;
    else result.rejected += 1;
    result.outcomes.push(outcome);
  }
}

/** Committing after losing the lock would be refused by the fence anyway; stop early. */
function throwIfLost(lease: Lease, notice: Notice): void {
  if (lease.signal.aborted) throw new LockBusyError(lockResource(notice));
}
