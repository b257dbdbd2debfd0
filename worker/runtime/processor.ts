import { DEFAULT_WORKER_SETTINGS } from '../config/worker-settings.js';
import { LockBusyError, PoisonNoticeError, WorkflowCodeError } from '../errors.js';
import type { ExecutionLock, Lease } from '../lock/execution-lock.js';
import type {
  AppliedBatch,
  EventOutcome,
  EventPage,
  EventRecord,
  EventStore,
  ExecutionRecord,
  LoadedExecution,
  ReadBounds,
} from '../store/event-store.js';
import type { Notice } from '../stream/transport.js';
import type { WorkflowDefinition, WorkflowState } from '../workflow/definition.js';
import type { WorkflowRegistry } from '../workflow/registry.js';
import type { ActionRunner, Heartbeat } from './actions.js';
import { cleanText } from './error-record.js';
import { decide, type ReplayedState, replayFrom, replayMore } from './replay.js';

const DEFAULT_READ_BYTES = DEFAULT_WORKER_SETTINGS.catchUpReadBytes;
const DEFAULT_STATE_CACHE_BYTES = DEFAULT_WORKER_SETTINGS.stateCacheBytes;

export interface ProcessorOptions {
  workerId: string;
  /** Events applied per transaction. */
  batchSize: number;
  /** A snapshot is written whenever applied_seq crosses a multiple of this. */
  snapshotEvery: number;
  /** Test seam: runs inside the commit transaction just before the fence. */
  beforeFence?: (batch: AppliedBatch) => Promise<void>;
  /** Bytes of folded states kept in memory between lock holds (0 turns it off). */
  stateCacheBytes?: number;
  /** Payload bytes one read of events brings into memory (it always brings one event). */
  readBytes?: number;
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

/**
 * The lock's name for an execution. Tenants and ids may contain ':', so a
 * plain join would give tenant "a" + id "b:c" and tenant "a:b" + id "c" one
 * lock; the tenant's length in front makes the split unambiguous.
 * Hazard: workers of an older release name the lock differently, so during
 * a rolling deploy both may hold "the" lock; the applied_seq fence keeps
 * commits correct, as for any lock lost.
 */
export function lockResource(notice: Notice): string {
  return `${notice.tenant.length}:${notice.tenant}:${notice.executionId}`;
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
    this.states = new StateCache(options.stateCacheBytes ?? DEFAULT_STATE_CACHE_BYTES);
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
      let waiting: EventPage;
      let replayed: ReplayedState | undefined;
      if (current) {
        waiting = await this.store.eventsAfter(
          notice.tenant,
          notice.executionId,
          execution.appliedSeq,
          this.bounds(),
        );
      } else {
        ({ waiting, replayed } = await this.replayAndRead(definition, execution, heartbeat));
      }
      const runnable = contiguousPending(waiting.events, execution.appliedSeq);
      if (runnable.length === 0) {
        const next = waiting.events[0];
        if (next !== undefined && isDecided(next.status) && reloads++ < 3) {
          // Another worker moved applied_seq since the read: start from its state.
          loaded = await this.load(notice);
          execution = loaded.execution;
          current = undefined;
          continue;
        }
        result.blocked = next?.status === 'dead';
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
      if (failure || !waiting.more) break;
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

  /** One read's bounds: a batch of events, and no more payload bytes than configured. */
  private bounds(): ReadBounds {
    return {
      limit: this.options.batchSize,
      maxBytes: this.options.readBytes ?? DEFAULT_READ_BYTES,
    };
  }

  /**
   * Rebuilds the state at applied_seq and reads the events waiting after
   * it. One read usually brings both; when its byte bound cuts the replay
   * short, what was read is folded and dropped before reading on, so memory
   * holds one read's worth of events whatever the history since the snapshot.
   * The fold is skipped when nothing can run (a duplicate notice).
   */
  private async replayAndRead(
    definition: WorkflowDefinition,
    execution: ExecutionRecord,
    heartbeat: Heartbeat,
  ): Promise<{ waiting: EventPage; replayed: ReplayedState | undefined }> {
    const { tenant, executionId, appliedSeq } = execution;
    const read = await this.store.catchUpBase(tenant, executionId, appliedSeq, this.bounds());
    if (!read) throw new Error(`execution ${executionId} has no initial snapshot`);
    let base = read.base;
    let waiting: EventPage = { events: read.waiting, more: read.more };
    let folded: ReplayedState | undefined;
    let lastSeq = base.events.at(-1)?.seq ?? base.snapshot?.seq ?? 0;
    // Also when the replay ended exactly at applied_seq: the waiting events are yet to be read.
    while (waiting.events.length === 0 && waiting.more) {
      folded = folded
        ? replayMore(definition, folded, base.events)
        : replayFrom(definition, execution, base);
      heartbeat();
      const page = await this.store.eventsAfter(tenant, executionId, lastSeq, this.bounds());
      base = { snapshot: undefined, events: page.events.filter((e) => e.seq <= appliedSeq) };
      waiting = { events: page.events.filter((e) => e.seq > appliedSeq), more: page.more };
      lastSeq = base.events.at(-1)?.seq ?? appliedSeq;
    }
    const next = waiting.events[0];
    if (next?.status !== 'pending' || next.seq !== appliedSeq + 1)
      return { waiting, replayed: undefined };
    const replayed = folded
      ? replayMore(definition, folded, base.events)
      : replayFrom(definition, execution, base);
    return { waiting, replayed };
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
 *
 * Bounded by bytes, not entries: a state is kept as its JSON text (what
 * PostgreSQL stores, so a round trip through it changes nothing), whose
 * length is its cost; the least recently kept go first, and a state larger
 * than the whole budget is not kept.
 */
export class StateCache {
  private readonly entries = new Map<string, { seq: number; json: string; bytes: number }>();
  private used = 0;

  constructor(private readonly capacityBytes = DEFAULT_STATE_CACHE_BYTES) {}

  /** Bytes the kept states take (as JSON text, two bytes a character). */
  get bytes(): number {
    return this.used;
  }

  get size(): number {
    return this.entries.size;
  }

  take(execution: ExecutionRecord): WorkflowState | undefined {
    const key = JSON.stringify([execution.tenant, execution.executionId]);
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    this.drop(key, entry.bytes);
    return entry.seq === execution.appliedSeq
      ? (JSON.parse(entry.json) as WorkflowState)
      : undefined;
  }

  keep(execution: ExecutionRecord, state: WorkflowState): void {
    if (this.capacityBytes <= 0) return;
    const key = JSON.stringify([execution.tenant, execution.executionId]);
    const earlier = this.entries.get(key);
    if (earlier) this.drop(key, earlier.bytes);
    const json = JSON.stringify(state);
    const bytes = json.length * 2;
    if (bytes > this.capacityBytes) return;
    for (const [oldest, entry] of this.entries) {
      if (this.used + bytes <= this.capacityBytes) break;
      this.drop(oldest, entry.bytes);
    }
    this.entries.set(key, { seq: execution.appliedSeq, json, bytes });
    this.used += bytes;
  }

  private drop(key: string, bytes: number): void {
    this.entries.delete(key);
    this.used -= bytes;
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
