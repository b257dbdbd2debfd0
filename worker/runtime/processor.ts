import { DEFAULT_WORKER_SETTINGS } from '../../core/config/worker-settings.js';
import { cleanText } from '../../core/error-record.js';
import {
  FencedError,
  LockBusyError,
  PoisonNoticeError,
  WorkflowCodeError,
} from '../../core/errors.js';
import { executionKey } from '../../store/batch-apply.js';
import type {
  AppliedBatch,
  ApplyStore,
  BatchRead,
  EventOutcome,
  EventPage,
  EventRecord,
  ExecutionRecord,
  LoadedExecution,
  ReadBounds,
} from '../../store/event-store.js';
import { isWriteConflict } from '../../store/rows.js';
import type { Notice } from '../../stream/transport.js';
import type { WorkflowDefinition, WorkflowState } from '../../workflow/definition.js';
import type { WorkflowRegistry } from '../../workflow/registry.js';
import type { BatchLock, HeldLocks } from '../lock/batch-lock.js';
import type { Lease } from '../lock/execution-lock.js';
import type { ActionRunner, Heartbeat } from './actions.js';
import { applyStoredEvent, type ReplayedState, replayFrom, replayMore } from './replay.js';

const DEFAULT_READ_BYTES = DEFAULT_WORKER_SETTINGS.catchUpReadBytes;
const DEFAULT_STATE_CACHE_BYTES = DEFAULT_WORKER_SETTINGS.stateCacheBytes;

export interface ProcessorOptions {
  workerId: string;
  /** Events of one execution applied per transaction (and read per execution). */
  batchSize: number;
  /** Executions applied together in one batch (one lock call, one read, one commit). */
  maxExecutions?: number;
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

const DEFAULT_MAX_EXECUTIONS = 100;
/** Lock attempts for an execution another holder has before its delivery is answered busy. */
const BUSY_ATTEMPTS = 3;
const BUSY_DELAY_MS = 40;

/** A notice waiting for a batch, and how to answer its caller. */
interface Waiter {
  notice: Notice;
  key: string;
  /** lockResource(notice), named once per delivery. */
  lock: string;
  heartbeat: Heartbeat;
  attempts: number;
  resolve(result: ProcessResult): void;
  reject(error: unknown): void;
}

/** What one batch decided for one execution. */
interface Plan {
  waiter: Waiter;
  lease: Lease;
  definition: WorkflowDefinition;
  execution: ExecutionRecord;
  hasPendingActions: boolean;
  result: ProcessResult;
  batch?: AppliedBatch;
  failure?: WorkflowCodeError;
  /** The batch read did not bring all it needs: the single-execution catch-up takes over. */
  continueAlone: boolean;
}

/**
 * Applies every committed, unapplied event of one execution in seq order:
 * idempotent catch-up, so a duplicate or late notice simply finds nothing to do.
 *
 * Notices arriving together are applied in batches across executions: the
 * first waits for nothing (a batch starts on the next turn of the event
 * loop), and those arriving while a batch runs form the next one. A batch
 * takes its executions' locks in one Redis call, reads them in one
 * statement, folds in memory and commits them in one statement with a
 * fence each; an execution whose lock is busy or whose fence fails drops
 * out alone. Actions then run under each execution's own lock.
 */
export class ExecutionProcessor {
  private readonly states: StateCache;
  private readonly queue: Waiter[] = [];
  /** Executions in a running batch: their next notice waits for the batch after. */
  private readonly running = new Set<string>();
  private scheduled = false;

  constructor(
    private readonly store: ApplyStore,
    private readonly registry: WorkflowRegistry,
    private readonly locks: BatchLock,
    private readonly actions: ActionRunner,
    private readonly options: ProcessorOptions,
  ) {
    this.states = new StateCache(options.stateCacheBytes ?? DEFAULT_STATE_CACHE_BYTES);
  }

  process(notice: Notice, heartbeat: Heartbeat = () => {}): Promise<ProcessResult> {
    return new Promise<ProcessResult>((resolve, reject) => {
      const key = executionKey(notice.tenant, notice.executionId);
      const lock = lockResource(notice);
      this.queue.push({ notice, key, lock, heartbeat, attempts: 0, resolve, reject });
      this.schedule();
    });
  }

  /**
   * Starts a batch on the next turn: the notices of one read reach here in
   * the same turn, through a few promise steps each, and go together.
   */
  private schedule(): void {
    if (this.scheduled || this.queue.length === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      const batch = this.takeBatch();
      if (batch.length > 0) void this.runBatch(batch);
    });
  }

  /** The queued notices of executions not already in a batch, one per execution. */
  private takeBatch(): Waiter[] {
    const limit = this.options.maxExecutions ?? DEFAULT_MAX_EXECUTIONS;
    const taken: Waiter[] = [];
    for (let i = 0; i < this.queue.length && taken.length < limit; ) {
      const waiter = this.queue[i]!;
      if (this.running.has(waiter.key)) {
        i += 1;
        continue;
      }
      this.running.add(waiter.key);
      taken.push(waiter);
      this.queue.splice(i, 1);
    }
    return taken;
  }

  private async runBatch(waiters: Waiter[]): Promise<void> {
    let locks: HeldLocks | undefined;
    const settled = new Set<Waiter>();
    const settle = (waiter: Waiter, outcome: { result: ProcessResult } | { error: unknown }) => {
      if (settled.has(waiter)) return;
      settled.add(waiter);
      this.running.delete(waiter.key);
      if ('result' in outcome) waiter.resolve(outcome.result);
      else waiter.reject(outcome.error);
      this.schedule();
    };
    try {
      locks = await this.locks.acquire(waiters.map((w) => w.lock));
      const busy = new Set(locks.busy);
      const held: Waiter[] = [];
      for (const waiter of waiters) {
        if (busy.has(waiter.lock)) {
          settled.add(waiter);
          this.running.delete(waiter.key);
          this.retryBusy(waiter);
        } else held.push(waiter);
      }
      if (held.length > 0) await this.applyHeld(held, locks, settle);
    } catch (error) {
      // The lock call, the read or the commit failed: an outage most likely
      // (the delivery handler checks, and then counts nothing), or the
      // commit met another writer in a deadlock, which is contention, like
      // a busy lock.
      await locks?.release();
      for (const waiter of waiters)
        settle(waiter, {
          error: isWriteConflict(error) ? new LockBusyError(waiter.lock) : error,
        });
    }
  }

  /** Another holder has the lock: try again shortly, as the single lock did, then give up. */
  private retryBusy(waiter: Waiter): void {
    waiter.attempts += 1;
    if (waiter.attempts >= BUSY_ATTEMPTS) {
      waiter.reject(new LockBusyError(waiter.lock));
      // Its execution's next notice may be queued behind it.
      this.schedule();
      return;
    }
    const delay = BUSY_DELAY_MS + Math.floor(Math.random() * (BUSY_DELAY_MS / 2));
    setTimeout(() => {
      this.queue.push(waiter);
      this.schedule();
    }, delay);
  }

  private async applyHeld(
    held: Waiter[],
    locks: HeldLocks,
    settle: (waiter: Waiter, outcome: { result: ProcessResult } | { error: unknown }) => void,
  ): Promise<void> {
    const reads = await this.store.readBatch(
      held.map((w) => ({
        tenant: w.notice.tenant,
        executionId: w.notice.executionId,
        cachedSeq: this.states.seqOf(w.notice.tenant, w.notice.executionId),
      })),
      this.bounds(),
    );
    const byKey = new Map(
      reads.map((r) => [
        executionKey(r.loaded.execution.tenant, r.loaded.execution.executionId),
        r,
      ]),
    );
    const plans: Plan[] = [];
    const done: Waiter[] = [];
    const answers = new Map<Waiter, { result: ProcessResult } | { error: unknown }>();
    for (const waiter of held) {
      const read = byKey.get(waiter.key);
      const lease = locks.lease(waiter.lock);
      try {
        if (!read) throw unknownExecution(waiter.notice);
        if (!lease) throw new LockBusyError(waiter.lock);
        plans.push(this.plan(waiter, lease, read));
      } catch (error) {
        answers.set(waiter, { error });
        done.push(waiter);
      }
    }
    const toCommit: AppliedBatch[] = [];
    for (const plan of plans) {
      if (!plan.batch) continue;
      // Committing after losing the lock would be refused by the fence anyway; stop early.
      if (plan.lease.signal.aborted) {
        plan.batch = undefined;
        plan.failure = undefined;
        plan.continueAlone = false;
        answers.set(plan.waiter, { error: new LockBusyError(plan.waiter.lock) });
        continue;
      }
      toCommit.push(plan.batch);
    }
    const committed =
      toCommit.length === 0
        ? new Set<string>()
        : await this.store.commitBatches(
            toCommit,
            this.options.beforeFence && ((batch) => this.options.beforeFence!(batch)),
          );
    const alone: Plan[] = [];
    for (const plan of plans) {
      if (answers.has(plan.waiter)) {
        done.push(plan.waiter);
        continue;
      }
      const batch = plan.batch;
      if (batch && !committed.has(plan.waiter.key)) {
        answers.set(plan.waiter, { error: new FencedError(batch.executionId, batch.expectedSeq) });
        done.push(plan.waiter);
        continue;
      }
      if (batch) this.afterCommit(plan, batch);
      plan.waiter.heartbeat();
      if (batch && hasIntents(batch)) plan.hasPendingActions = true;
      if (plan.continueAlone || plan.hasPendingActions) {
        alone.push(plan);
        continue;
      }
      answers.set(plan.waiter, plan.failure ? { error: plan.failure } : { result: plan.result });
      done.push(plan.waiter);
    }
    // One release for every execution with nothing left to do, then the answers.
    await locks.release(done.map((w) => w.lock));
    for (const waiter of done) settle(waiter, answers.get(waiter)!);
    await Promise.all(
      alone.map(async (plan) => {
        try {
          settle(plan.waiter, { result: await this.finishAlone(plan) });
        } catch (error) {
          settle(plan.waiter, { error });
        } finally {
          await locks.release([plan.waiter.lock]);
        }
      }),
    );
  }

  /**
   * Decides one execution's part of a batch from what the batched read
   * brought: its state (cached, or replayed from the base) and the events
   * waiting after applied_seq, up to the first that workflow code throws for.
   */
  private plan(waiter: Waiter, lease: Lease, read: BatchRead): Plan {
    const execution = read.loaded.execution;
    const definition = this.registry.get(execution.workflowName, execution.workflowVersion);
    const plan: Plan = {
      waiter,
      lease,
      definition,
      execution,
      hasPendingActions: read.loaded.hasPendingActions,
      result: emptyResult(),
      continueAlone: false,
    };
    const cached = this.states.take(execution);
    if (execution.status === 'blocked') {
      plan.result.blocked = true;
      return plan;
    }
    if (!read.base && !cached) {
      // The cached state went meanwhile: the single-execution catch-up replays.
      plan.continueAlone = true;
      return plan;
    }
    if (read.base && read.waiting.length === 0 && read.more) {
      // The byte bound cut the replay short: the catch-up folds it page by page.
      plan.continueAlone = true;
      return plan;
    }
    const runnable = contiguousPending(read.waiting, execution.appliedSeq);
    if (runnable.length === 0) {
      if (cached) this.states.keep(execution, cached);
      plan.result.blocked = read.waiting[0]?.status === 'dead';
      return plan;
    }
    let current: WorkflowState;
    if (cached) current = cached;
    else {
      const replayed = replayFrom(definition, execution, read.base!);
      plan.result.eventsReplayed = replayed.eventsRead;
      current = replayed;
    }
    const decided = this.decideBatch(definition, execution, current, runnable);
    plan.batch = decided.batch;
    plan.failure = decided.failure;
    // Events past the read wait: the catch-up reads on once this batch commits.
    plan.continueAlone = !decided.failure && runnable.length === read.waiting.length && read.more;
    return plan;
  }

  private afterCommit(plan: Plan, batch: AppliedBatch): void {
    tally(plan.result, batch.outcomes);
    plan.execution = advanced(plan.execution, batch);
    this.states.keep(plan.execution, { state: batch.state, data: batch.data });
  }

  /** What a batch left to do for one execution: read on, run its actions; still under its lock. */
  private async finishAlone(plan: Plan): Promise<ProcessResult> {
    const { waiter, lease, execution } = plan;
    if (plan.continueAlone) {
      const rest = await this.catchUp(
        waiter.notice,
        lease,
        { execution, hasPendingActions: plan.hasPendingActions },
        waiter.heartbeat,
      );
      return merge(plan.result, rest);
    }
    plan.result.actionsRun = await this.actions.runPending(
      plan.definition,
      execution,
      lease.signal,
      waiter.heartbeat,
    );
    if (plan.failure) throw plan.failure;
    return plan.result;
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
        intentsCommitted ||= hasIntents(batch);
        current = { state: batch.state, data: batch.data };
        execution = advanced(execution, batch);
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
    if (!loaded) throw unknownExecution(notice);
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
      let step: ReturnType<typeof applyStoredEvent>;
      try {
        step = applyStoredEvent(definition, current, event);
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

function unknownExecution(notice: Notice): PoisonNoticeError {
  return new PoisonNoticeError(
    `unknown execution ${notice.executionId} of tenant ${notice.tenant}`,
  );
}

/** A batch's result followed by the single-execution catch-up's. */
function merge(first: ProcessResult, rest: ProcessResult): ProcessResult {
  return {
    applied: first.applied + rest.applied,
    rejected: first.rejected + rest.rejected,
    eventsReplayed: first.eventsReplayed + rest.eventsReplayed,
    actionsRun: first.actionsRun + rest.actionsRun,
    blocked: rest.blocked,
    outcomes: [...first.outcomes, ...rest.outcomes],
  };
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

  /** The applied_seq of the state kept for an execution, without taking it. */
  seqOf(tenant: string, executionId: string): number | undefined {
    return this.entries.get(executionKey(tenant, executionId))?.seq;
  }

  take(execution: ExecutionRecord): WorkflowState | undefined {
    const key = executionKey(execution.tenant, execution.executionId);
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    this.drop(key, entry.bytes);
    return entry.seq === execution.appliedSeq
      ? (JSON.parse(entry.json) as WorkflowState)
      : undefined;
  }

  keep(execution: ExecutionRecord, state: WorkflowState): void {
    if (this.capacityBytes <= 0) return;
    const key = executionKey(execution.tenant, execution.executionId);
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

/** The execution as a committed batch left it. */
function advanced(execution: ExecutionRecord, batch: AppliedBatch): ExecutionRecord {
  return {
    ...execution,
    appliedSeq: batch.outcomes.at(-1)!.seq,
    state: batch.state,
    data: batch.data,
    status: batch.status,
  };
}

/** Whether a batch committed action intents (its actions are pending now). */
function hasIntents(batch: AppliedBatch): boolean {
  return batch.outcomes.some((o) => o.kind === 'applied' && o.actions.length > 0);
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
