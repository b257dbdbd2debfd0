import { LockBusyError, PoisonNoticeError, WorkflowCodeError } from '../errors.js';
import type { ExecutionLock, Lease } from '../lock/execution-lock.js';
import type {
  AppliedBatch,
  EventOutcome,
  EventRecord,
  EventStore,
  ExecutionRecord,
  LoadedExecution,
} from '../store/event-store.js';
import type { Notice } from '../stream/transport.js';
import type { WorkflowDefinition, WorkflowState } from '../workflow/definition.js';
import type { WorkflowRegistry } from '../workflow/registry.js';
import type { ActionRunner, Heartbeat } from './actions.js';
import { cleanText } from './error-record.js';
import { decide, type ReplayedState, replayFrom } from './replay.js';

export interface ProcessorOptions {
  workerId: string;
  /** Events applied per transaction. */
  batchSize: number;
  /** A snapshot is written whenever applied_seq crosses a multiple of this. */
  snapshotEvery: number;
  /** Test seam: runs inside the commit transaction just before the fence. */
  beforeFence?: (batch: AppliedBatch) => Promise<void>;
  /** Folded states kept in memory between lock holds (0 turns it off). */
  stateCacheSize?: number;
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
  private readonly states: StateCache;

  constructor(
    private readonly store: EventStore,
    private readonly registry: WorkflowRegistry,
    private readonly lock: ExecutionLock,
    private readonly actions: ActionRunner,
    private readonly options: ProcessorOptions,
  ) {
    this.states = new StateCache(options.stateCacheSize ?? 10_000);
  }

  async process(notice: Notice, heartbeat: Heartbeat = () => {}): Promise<ProcessResult> {
    // A duplicate or late notice is the common case once catch-up batches:
    // one read tells there is nothing to do, without the lock's round trips.
    const loaded = await this.load(notice);
    const { execution } = loaded;
    const nothingWaiting =
      execution.status === 'blocked' || execution.appliedSeq >= execution.nextSeq - 1;
    if (nothingWaiting && !loaded.hasPendingActions) {
      return { ...emptyResult(), blocked: execution.status === 'blocked' };
    }
    return this.lock.withLock(lockResource(notice), (lease) =>
      this.catchUp(notice, lease, loaded, heartbeat),
    );
  }

  /**
   * `loaded` was read before the lock and may be stale; a stale applied_seq
   * shows as an already decided event right after it, and is read again.
   */
  private async catchUp(
    notice: Notice,
    lease: Lease,
    loaded: LoadedExecution,
    heartbeat: Heartbeat,
  ): Promise<ProcessResult> {
    const result = emptyResult();
    let execution = loaded.execution;
    let intentsCommitted = false;
    let reloads = 0;
    const definition = this.registry.get(execution.workflowName, execution.workflowVersion);
    let current: WorkflowState | undefined;
    let failure: WorkflowCodeError | undefined;
    for (;;) {
      if (execution.status === 'blocked') {
        result.blocked = true;
        break;
      }
      current ??= this.states.take(execution);
      let waiting: EventRecord[];
      let replayed: ReplayedState | undefined;
      if (current) {
        waiting = await this.store.unappliedEvents(
          notice.tenant,
          notice.executionId,
          execution.appliedSeq,
          this.options.batchSize,
        );
      } else {
        // Replay base and waiting events in one read.
        const read = await this.store.catchUpBase(
          notice.tenant,
          notice.executionId,
          execution.appliedSeq,
          this.options.batchSize,
        );
        if (!read) throw new Error(`execution ${execution.executionId} has no initial snapshot`);
        waiting = read.waiting;
        if (waiting[0]?.status === 'pending' && waiting[0].seq === execution.appliedSeq + 1)
          replayed = replayFrom(definition, execution, read.base);
      }
      const runnable = contiguousPending(waiting, execution.appliedSeq);
      if (runnable.length === 0) {
        if (waiting[0] !== undefined && isDecided(waiting[0].status) && reloads++ < 3) {
          // Another worker moved applied_seq since the read: start from its state.
          loaded = await this.load(notice);
          execution = loaded.execution;
          current = undefined;
          continue;
        }
        result.blocked = waiting[0]?.status === 'dead';
        break;
      }
      if (!current) {
        if (!replayed) throw new Error('unreachable: runnable events without a replayed state');
        result.eventsReplayed += replayed.eventsRead;
        current = replayed;
      }
      const decided = this.decideBatch(definition, execution, current, runnable);
      const batch = decided.batch;
      if (batch) {
        throwIfLost(lease, notice);
        await this.store.commitBatch(
          batch,
          this.options.beforeFence && (() => this.options.beforeFence!(batch)),
        );
        tally(result, batch.outcomes);
        intentsCommitted ||= batch.outcomes.some(
          (o) => o.kind === 'applied' && o.actions.length > 0,
        );
        current = { state: batch.state, data: batch.data };
        execution = {
          ...execution,
          appliedSeq: batch.outcomes.at(-1)!.seq,
          state: batch.state,
          data: batch.data,
          status: batch.status,
        };
        this.states.keep(execution, current);
        heartbeat();
      }
      failure = decided.failure;
      if (failure || waiting.length < this.options.batchSize) break;
    }
    // The events before a failing one are committed; their actions run now
    // rather than wait until the failing event is retried or buried.
    if (loaded.hasPendingActions || intentsCommitted)
      result.actionsRun = await this.actions.runPending(
        definition,
        execution,
        lease.signal,
        heartbeat,
      );
    if (failure) throw failure;
    return result;
  }

  private async load(notice: Notice): Promise<LoadedExecution> {
    const loaded = await this.store.loadExecution(notice.tenant, notice.executionId);
    if (!loaded)
      throw new PoisonNoticeError(
        `unknown execution ${notice.executionId} of tenant ${notice.tenant}`,
      );
    return loaded;
  }

  /**
   * Decides `events` in order. When workflow code throws for one, the batch
   * ends before it (so the events before it still commit) and the error
   * names it, so that only that event is ever dead-lettered for it.
   */
  private decideBatch(
    definition: WorkflowDefinition,
    execution: ExecutionRecord,
    start: WorkflowState,
    events: readonly EventRecord[],
  ): { batch: AppliedBatch | undefined; failure: WorkflowCodeError | undefined } {
    let current = start;
    const outcomes: EventOutcome[] = [];
    let failure: WorkflowCodeError | undefined;
    for (const event of events) {
      let step: ReturnType<typeof decide>;
      try {
        step = decide(definition, current, event);
      } catch (error) {
        if (!(error instanceof WorkflowCodeError)) throw error;
        failure = error;
        break;
      }
      if (step.kind === 'applied') {
        outcomes.push({ eventId: event.eventId, seq: event.seq, ...step });
        current = { state: step.toState, data: step.data };
      } else {
        // A guard's reason is workflow text stored and shown to callers: it
        // may quote what the guard looked at, credentials included.
        outcomes.push({
          eventId: event.eventId,
          seq: event.seq,
          ...step,
          reason: cleanText(step.reason),
        });
      }
    }
    if (outcomes.length === 0) return { batch: undefined, failure };
    const lastSeq = outcomes.at(-1)!.seq;
    const every = this.options.snapshotEvery;
    const crossed =
      every > 0 && Math.floor(lastSeq / every) > Math.floor(execution.appliedSeq / every);
    const batch: AppliedBatch = {
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
    return { batch, failure };
  }
}

function emptyResult(): ProcessResult {
  return {
    applied: 0,
    rejected: 0,
    eventsReplayed: 0,
    actionsRun: 0,
    blocked: false,
    outcomes: [],
  };
}

function isDecided(status: EventRecord['status']): boolean {
  return status === 'applied' || status === 'rejected';
}

/**
 * Folded states this process committed, by execution and applied_seq. The
 * fold at a given applied_seq never changes (decided events are immutable),
 * so an entry is valid exactly when the execution's applied_seq still equals
 * its seq; it saves the replay reads when the same execution has work again.
 * An entry is taken out while in use, so a failed attempt cannot leave a
 * half-changed state behind.
 */
export class StateCache {
  private readonly entries = new Map<string, { seq: number; state: WorkflowState }>();

  constructor(private readonly capacity = 10_000) {}

  take(execution: ExecutionRecord): WorkflowState | undefined {
    const key = `${execution.tenant}\u0000${execution.executionId}`;
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    this.entries.delete(key);
    return entry.seq === execution.appliedSeq ? entry.state : undefined;
  }

  keep(execution: ExecutionRecord, state: WorkflowState): void {
    if (this.capacity <= 0) return;
    const key = `${execution.tenant}\u0000${execution.executionId}`;
    this.entries.delete(key);
    if (this.entries.size >= this.capacity) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(key, { seq: execution.appliedSeq, state: structuredClone(state) });
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
