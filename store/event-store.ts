/**
 * The event store: what the programs read from and write to PostgreSQL, the
 * source of truth. Every method takes the tenant and every query filters by
 * it.
 */

export type ExecutionStatus = 'active' | 'completed' | 'blocked';
export type EventStatus = 'pending' | 'applied' | 'rejected' | 'dead';
export type ActionStatus = 'pending' | 'succeeded' | 'failed';

export interface ExecutionRecord extends NewExecution {
  status: ExecutionStatus;
  nextSeq: number;
  appliedSeq: number;
  createdAt: Date;
  updatedAt: Date;
}

export interface EventRecord {
  tenant: string;
  eventId: string;
  executionId: string;
  seq: number;
  name: string;
  payload: unknown;
  userId: string | null;
  idempotencyKey: string | null;
  fromState: string | null;
  toState: string | null;
  status: EventStatus;
  reason: string | null;
  createdAt: Date;
  appliedAt: Date | null;
  publishedAt: Date | null;
}

export interface NewExecution {
  tenant: string;
  executionId: string;
  workflowName: string;
  workflowVersion: number;
  state: string;
  data: unknown;
}

export interface NewEvent {
  tenant: string;
  executionId: string;
  eventId: string;
  name: string;
  payload: unknown;
  userId?: string | null;
  idempotencyKey?: string | null;
}

export interface AppendedEvent {
  eventId: string;
  seq: number;
  /** True when an earlier event with the same idempotency key and payload was returned instead. */
  duplicate: boolean;
}

export interface Snapshot {
  seq: number;
  state: string;
  data: unknown;
}

/** What replay needs: the latest snapshot at or below applied_seq and the log after it. */
export interface ReplayBase {
  snapshot: Snapshot | undefined;
  events: EventRecord[];
}

/** One event's outcome in a batch the processor commits. */
export type EventOutcome =
  | {
      eventId: string;
      seq: number;
      kind: 'applied';
      fromState: string;
      toState: string;
      actions: readonly string[];
    }
  | { eventId: string; seq: number; kind: 'rejected'; fromState: string; reason: string };

export interface AppliedBatch {
  tenant: string;
  executionId: string;
  /** The applied_seq the batch was computed from: the fence. */
  expectedSeq: number;
  outcomes: EventOutcome[];
  state: string;
  data: unknown;
  status: ExecutionStatus;
  snapshot: Snapshot | undefined;
  workerId: string;
}

/** Where a page of pending actions ended. */
export interface ActionCursor {
  seq: number;
  position: number;
}

/** How much one read may bring into memory. */
export interface ReadBounds {
  limit: number;
  /** Payload bytes (as JSON text); a read always brings at least one row. */
  maxBytes: number;
}

/** Events in seq order; `more` says whether others follow the last. */
export interface EventPage {
  events: EventRecord[];
  more: boolean;
}

export interface ActionIntent {
  /** The intent's own event seq and insertion order: its place in a paged read. */
  cursor: ActionCursor;
  tenant: string;
  executionId: string;
  eventId: string;
  eventName: string;
  payload: unknown;
  actionName: string;
  attempts: number;
}

export interface ActionOutcome {
  tenant: string;
  eventId: string;
  actionName: string;
  status: ActionStatus;
  result?: unknown;
  error?: string;
}

/** An execution with work: what a stream notice names. */
export interface ExecutionRef {
  tenant: string;
  executionId: string;
  eventId?: string;
}

/** What a dead-lettered notice failed on, as far as the worker knows. */
export type DeadCulprit =
  /** Applying this event threw: it is dead if it still waits right after applied_seq. */
  | { kind: 'event'; eventId: string }
  /** The execution's actions keep failing; its events are fine. */
  | { kind: 'actions' }
  /**
   * Not known (a worker died holding the notice): the event right after
   * applied_seq if one waits, else the actions that have failed.
   */
  | { kind: 'unknown' };

export interface DeadMarking {
  deadEventIds: string[];
  /** Actions recorded as failed, for feeding their onFailure events back. */
  failedActions: Array<{ eventId: string; actionName: string }>;
}

export type HistoryPage = EventPage;

/** What a catch-up reads first: the replay base at applied_seq and the events waiting after it. */
export interface CatchUpBase {
  base: ReplayBase;
  waiting: EventRecord[];
  /** Events follow the last one read (the read was cut by its bounds). */
  more: boolean;
}

/** One execution a batched read asks for. */
export interface BatchReadRequest {
  tenant: string;
  executionId: string;
  /** The applied_seq of a folded state the caller holds: then no replay base is read if it is current. */
  cachedSeq?: number;
}

/** One execution as a batched read found it. */
export interface BatchRead {
  loaded: LoadedExecution;
  /** The replay base at applied_seq; undefined when the caller's cached state is current. */
  base: ReplayBase | undefined;
  /** Events after applied_seq (any status), in seq order. */
  waiting: EventRecord[];
  /** Events follow the last one read (the read was cut by its bounds). */
  more: boolean;
}

/** An execution with what a worker needs to know before taking its lock. */
export interface LoadedExecution {
  execution: ExecutionRecord;
  /** Some action intent of the execution is still pending (not run, or to retry). */
  hasPendingActions: boolean;
}

/*
 * The store's interfaces, one per consumer: each user depends only on the
 * calls it makes, and PostgresEventStore implements them all.
 */

/** The enqueue path (engine/workflow-service): new executions and the group commit. */
export interface AppendStore {
  createExecution(execution: NewExecution): Promise<ExecutionRecord>;
  /**
   * Group commit (see append-batch.ts): many events of any executions in one
   * transaction, written as published (their notices go out next). One
   * result per event, in order.
   */
  appendEvents(events: readonly NewEvent[]): Promise<AppendResult[]>;
  /** Clears the published mark of pending events whose notices did not go out. */
  clearPublished(refs: readonly EventRef[]): Promise<void>;
  /** The workflows of many executions in one read; missing ones are left out. */
  workflowsOf(keys: readonly ExecutionKey[]): Promise<ExecutionWorkflow[]>;
}

/** Reads of one execution and its log: the enqueue service's lookups, verify, the CLI. */
export interface HistoryStore {
  getExecution(tenant: string, executionId: string): Promise<ExecutionRecord | undefined>;
  /** Whether the execution exists, without reading its row (its data may be large). */
  executionExists(tenant: string, executionId: string): Promise<boolean>;
  history(
    tenant: string,
    executionId: string,
    options?: { afterSeq?: number; limit?: number },
  ): Promise<EventRecord[]>;
  /**
   * One page of history for a reader that must bound its memory: events
   * after `afterSeq` in seq order, at most `limit` of them and no more than
   * `maxBytes` of payload JSON (but always the first one, however large).
   * `more` says whether events after the page exist.
   */
  historyPage(
    tenant: string,
    executionId: string,
    options: { afterSeq: number; limit: number; maxBytes: number },
  ): Promise<HistoryPage>;
}

/** Inspection beyond the log: an event with its error, the snapshots, the actions' results. */
export interface InspectionStore {
  getEvent(
    tenant: string,
    eventId: string,
  ): Promise<(EventRecord & { error: string | null }) | undefined>;
  snapshots(tenant: string, executionId: string): Promise<Snapshot[]>;
  actionResults(
    tenant: string,
    executionId: string,
  ): Promise<Array<ActionOutcome & { attempts: number }>>;
}

/** The apply path (worker/runtime/processor): the batched read and the fenced commit. */
export interface ApplyStore {
  /** The execution and whether it has pending actions, in one read. */
  loadExecution(tenant: string, executionId: string): Promise<LoadedExecution | undefined>;
  /**
   * The latest snapshot at or below appliedSeq and the events after it (up
   * to appliedSeq, then at most `bounds.limit` more), in one read bounded by
   * payload bytes like eventsAfter; undefined when the execution has no
   * snapshot at or below appliedSeq. The events may stop short of
   * appliedSeq (`more` is then true): read on with eventsAfter.
   */
  catchUpBase(
    tenant: string,
    executionId: string,
    appliedSeq: number,
    bounds: ReadBounds,
  ): Promise<CatchUpBase | undefined>;
  /**
   * Events after `afterSeq` whatever their status, in seq order: applied and
   * rejected ones too, which a replay cut short reads on through, and from
   * whose status the processor sees that another worker moved on. At most
   * `bounds.limit`, and no more payload bytes than `bounds.maxBytes` (always
   * at least one event).
   */
  eventsAfter(
    tenant: string,
    executionId: string,
    afterSeq: number,
    bounds: ReadBounds,
  ): Promise<EventPage>;
  /**
   * Commits a batch of outcomes if and only if applied_seq still equals
   * `expectedSeq`; otherwise throws FencedError and writes nothing.
   */
  commitBatch(batch: AppliedBatch, beforeFence?: () => Promise<void>): Promise<void>;
  /**
   * Many executions in one read (see batch-apply.ts): each one's row, the
   * replay base unless its cached state is current, and the events waiting
   * after applied_seq, bounded per execution like catchUpBase. Executions
   * that do not exist are left out.
   */
  readBatch(requests: readonly BatchReadRequest[], bounds: ReadBounds): Promise<BatchRead[]>;
  /**
   * Commits many executions' batches in one transaction, each behind its own
   * fence; returns the executionKey of each that committed (a fenced one
   * writes nothing and the others commit).
   */
  commitBatches(
    batches: readonly AppliedBatch[],
    beforeFence?: (batch: AppliedBatch) => Promise<void>,
  ): Promise<Set<string>>;
}

/** Running actions (worker/runtime/actions): the pending intents and each attempt's outcome. */
export interface ActionStore {
  /**
   * Pending action intents in (seq, position) order after `after`, bounded
   * like eventsAfter by their events' payload bytes.
   */
  pendingActions(
    tenant: string,
    executionId: string,
    bounds: ReadBounds & { after?: ActionCursor },
  ): Promise<ActionIntent[]>;
  recordActionAttempt(outcome: ActionOutcome): Promise<void>;
}

/** The outbox relay (engine/outbox-relay): notices that may be lost. */
export interface RelayStore {
  /**
   * Pending events whose notice may be lost: never published and older than
   * `unpublishedOlderThanMs`, or published longer ago than `stalePublishedMs`.
   * Marks them published now, so each is republished at most once per period.
   */
  claimRepublishable(options: {
    unpublishedOlderThanMs: number;
    stalePublishedMs: number;
    limit: number;
  }): Promise<ExecutionRef[]>;
}

/** A liveness check: answers when PostgreSQL does. */
export interface PingableStore {
  ping(): Promise<void>;
}

/** A delivery's failures (worker/runtime/delivery-handler): counted, then buried. */
export interface FailureStore extends PingableStore {
  recordFailure(tenant: string, eventId: string, workerId: string, error: string): Promise<void>;
  /**
   * Marks what keeps failing dead: the culprit event (blocking the
   * execution) or the execution's failing actions.
   */
  markDead(ref: ExecutionRef, error: string, culprit?: DeadCulprit): Promise<DeadMarking>;
  /** The execution of a buried notice, for feeding its actions' failures back. */
  getExecution(tenant: string, executionId: string): Promise<ExecutionRecord | undefined>;
}

/** Listing and retrying dead letters (engine/dead-letters). */
export interface DeadLetterStore {
  listDead(tenant: string, limit: number): Promise<Array<EventRecord & { error: string | null }>>;
  /** Puts a dead event (and its failed actions) back to pending; returns its execution. */
  reviveDead(tenant: string, eventId: string): Promise<ExecutionRef>;
  markPublished(tenant: string, eventIds: readonly string[]): Promise<void>;
}

/** An execution by its tenant and id. */
export interface ExecutionKey {
  tenant: string;
  executionId: string;
}

/** The workflow an execution runs (fixed at its start). */
export interface ExecutionWorkflow extends ExecutionKey {
  workflowName: string;
  workflowVersion: number;
}

/** An event by its tenant and id. */
export interface EventRef {
  tenant: string;
  eventId: string;
}

/**
 * One item's outcome in a group commit: its event (new, or the earlier one
 * of a repeated key), or why it alone was refused (ConflictError,
 * NotFoundError, or what the database said of its data).
 */
export type AppendResult = AppendedEvent | { error: unknown };
