import type { Knex } from 'knex';
import { ConflictError, FencedError, FlowpoolError, NotFoundError } from '../core/errors.js';
import { appendBatch, clearPublished, idempotencyConflict, workflowsOf } from './append-batch.js';
import { commitBatches, readBatch } from './batch-apply.js';
import { boundedPage } from './bounded-page.js';
import type {
  ActionCursor,
  ActionIntent,
  ActionOutcome,
  ActionStore,
  AppendedEvent,
  AppendResult,
  AppendStore,
  AppliedBatch,
  ApplyStore,
  BatchRead,
  BatchReadRequest,
  CatchUpBase,
  DeadCulprit,
  DeadLetterStore,
  DeadMarking,
  EventPage,
  EventRecord,
  EventRef,
  ExecutionKey,
  ExecutionRecord,
  ExecutionRef,
  ExecutionWorkflow,
  FailureStore,
  HistoryPage,
  HistoryStore,
  InspectionStore,
  LoadedExecution,
  NewEvent,
  NewExecution,
  ReadBounds,
  RelayStore,
  Snapshot,
} from './event-store.js';
import {
  type EventRow,
  type ExecutionRow,
  isUniqueViolation,
  toEvent,
  toExecution,
} from './rows.js';
import { ACTIONS, EVENTS, EXECUTIONS, PROCESSING, SNAPSHOTS } from './tables.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function isUuid(value: string): boolean {
  return UUID.test(value);
}

/** The event store on PostgreSQL through knex. */
export class PostgresEventStore
  implements
    AppendStore,
    HistoryStore,
    InspectionStore,
    ApplyStore,
    ActionStore,
    RelayStore,
    FailureStore,
    DeadLetterStore
{
  constructor(private readonly knex: Knex) {}

  async createExecution(execution: NewExecution): Promise<ExecutionRecord> {
    try {
      return await this.knex.transaction(async (trx) => {
        const [row] = await trx(EXECUTIONS)
          .insert({
            tenant: execution.tenant,
            execution_id: execution.executionId,
            workflow_name: execution.workflowName,
            workflow_version: execution.workflowVersion,
            current_state: execution.state,
            data: JSON.stringify(execution.data),
          })
          .returning('*');
        // The snapshot at seq 0 is the initial state, so replay never needs the start input.
        await trx(SNAPSHOTS).insert({
          tenant: execution.tenant,
          execution_id: execution.executionId,
          seq: 0,
          current_state: execution.state,
          data: JSON.stringify(execution.data),
        });
        return toExecution(row as ExecutionRow);
      });
    } catch (error) {
      if (isUniqueViolation(error)) {
        throw new ConflictError(
          'EXECUTION_EXISTS',
          `execution ${execution.executionId} already exists`,
        );
      }
      throw error;
    }
  }

  async appendEvent(event: NewEvent): Promise<AppendedEvent> {
    // One statement, so one round trip and one transaction: bumping next_seq
    // locks the execution row until the commit, which serialises enqueues per
    // execution (seqs commit in order), and the event row commits with it
    // (its processing record waits for a worker: see recordFailure). A
    // reused idempotency key aborts the whole statement on the unique key
    // (nothing is written, no seq is skipped), and the settled earlier row
    // is looked up after.
    try {
      const result = await this.knex.raw(
        `with bumped as (
           update ${EXECUTIONS} set next_seq = next_seq + 1
            where tenant = ? and execution_id = ?
           returning next_seq - 1 as seq),
         inserted as (
           insert into ${EVENTS} (tenant, event_id, execution_id, seq, event_name, payload, user_id, idempotency_key)
           select ?, ?::uuid, ?, seq, ?, ?::jsonb, ?, ? from bumped
           returning seq)
         select seq from inserted`,
        [
          event.tenant,
          event.executionId,
          event.tenant,
          event.eventId,
          event.executionId,
          event.name,
          JSON.stringify(event.payload ?? {}),
          event.userId ?? null,
          event.idempotencyKey ?? null,
        ],
      );
      const row = result.rows[0] as { seq: string } | undefined;
      if (!row) throw new NotFoundError(`execution ${event.executionId}`);
      return { eventId: event.eventId, seq: Number(row.seq), duplicate: false };
    } catch (error) {
      if (!event.idempotencyKey || !isUniqueViolation(error)) throw error;
      const earlier = await this.findByIdempotencyKey(this.knex, event);
      if (earlier) return earlier;
      throw error;
    }
  }

  private async findByIdempotencyKey(
    trx: Knex,
    event: NewEvent,
  ): Promise<AppendedEvent | undefined> {
    const earlier = await trx(EVENTS)
      .where({
        tenant: event.tenant,
        execution_id: event.executionId,
        idempotency_key: event.idempotencyKey,
      })
      .first(
        'event_id',
        'seq',
        trx.raw('(event_name = ? and payload = ?::jsonb) as same', [
          event.name,
          JSON.stringify(event.payload ?? {}),
        ]),
      );
    if (!earlier) return undefined;
    if (!earlier.same) throw idempotencyConflict(event);
    return { eventId: earlier.event_id, seq: Number(earlier.seq), duplicate: true };
  }

  appendEvents(events: readonly NewEvent[]): Promise<AppendResult[]> {
    return appendBatch(this.knex, events, (event) => this.appendEvent(event));
  }

  clearPublished(refs: readonly EventRef[]): Promise<void> {
    return clearPublished(this.knex, refs);
  }

  workflowsOf(keys: readonly ExecutionKey[]): Promise<ExecutionWorkflow[]> {
    return workflowsOf(this.knex, keys);
  }

  async markPublished(tenant: string, eventIds: readonly string[]): Promise<void> {
    if (eventIds.length === 0) return;
    // The mark is an optimisation (the relay resends unmarked rows), so rows
    // another transaction holds are skipped rather than waited for: a worker
    // may be committing the same events right now, and waiting on a batch of
    // its rows in another order would risk a deadlock.
    // published_at is the mark; processing records are the worker's.
    await this.knex.raw(
      `with events as (
         select id from ${EVENTS}
          where tenant = ? and event_id = any(?::uuid[]) and published_at is null
          for update skip locked)
       update ${EVENTS} e set published_at = now() from events t where e.id = t.id`,
      [tenant, [...eventIds]] as unknown as Knex.RawBinding[],
    );
  }

  async claimRepublishable(options: {
    unpublishedOlderThanMs: number;
    stalePublishedMs: number;
    limit: number;
  }): Promise<ExecutionRef[]> {
    const events = await this.knex.raw(
      `with candidates as (
         select e.id from ${EVENTS} e
           join ${EXECUTIONS} x on x.tenant = e.tenant and x.execution_id = e.execution_id
          where e.status = 'pending' and x.status <> 'blocked'
            and ((e.published_at is null and e.created_at < now() - make_interval(secs => ?))
              or e.published_at < now() - make_interval(secs => ?))
          order by e.created_at limit ? for update of e skip locked)
       update ${EVENTS} e set published_at = now() from candidates c where e.id = c.id
       returning e.tenant, e.execution_id, e.event_id`,
      [options.unpublishedOlderThanMs / 1000, options.stalePublishedMs / 1000, options.limit],
    );
    // Actions whose notice was lost after the transition committed.
    const actions = await this.knex.raw(
      `with candidates as (
         select id from ${ACTIONS}
          where status = 'pending' and updated_at < now() - make_interval(secs => ?)
          order by updated_at limit ? for update skip locked)
       update ${ACTIONS} a set updated_at = now() from candidates c where a.id = c.id
       returning a.tenant, a.execution_id, a.event_id`,
      [options.stalePublishedMs / 1000, options.limit],
    );
    const refs = new Map<string, ExecutionRef>();
    for (const row of [...events.rows, ...actions.rows] as Array<{
      tenant: string;
      execution_id: string;
      event_id: string;
    }>) {
      refs.set(`${row.tenant}\u0000${row.execution_id}`, {
        tenant: row.tenant,
        executionId: row.execution_id,
        eventId: row.event_id,
      });
    }
    return [...refs.values()];
  }

  async loadExecution(tenant: string, executionId: string): Promise<LoadedExecution | undefined> {
    const result = await this.knex.raw(
      `select x.*, exists (select 1 from ${ACTIONS} a
                            where a.tenant = x.tenant and a.execution_id = x.execution_id and a.status = 'pending')
                   as has_pending_actions
         from ${EXECUTIONS} x where x.tenant = ? and x.execution_id = ?`,
      [tenant, executionId],
    );
    const row = result.rows[0] as (ExecutionRow & { has_pending_actions: boolean }) | undefined;
    return row
      ? { execution: toExecution(row), hasPendingActions: row.has_pending_actions }
      : undefined;
  }

  async getExecution(tenant: string, executionId: string): Promise<ExecutionRecord | undefined> {
    const row = await this.knex(EXECUTIONS).where({ tenant, execution_id: executionId }).first();
    return row ? toExecution(row as ExecutionRow) : undefined;
  }

  async executionExists(tenant: string, executionId: string): Promise<boolean> {
    const row = await this.knex(EXECUTIONS)
      .where({ tenant, execution_id: executionId })
      .first(this.knex.raw('1 as found'));
    return row !== undefined;
  }

  async catchUpBase(
    tenant: string,
    executionId: string,
    appliedSeq: number,
    bounds: ReadBounds,
  ): Promise<CatchUpBase | undefined> {
    // The latest snapshot, the decided events after it and the next `limit`
    // events, in one round trip; the snapshot's data comes on the first row
    // only. The byte budget is counted in PostgreSQL, so rows past it never
    // reach this process; one row more than kept tells whether more follow.
    const result = await this.knex.raw(
      `with snap as (
         select seq, current_state, data from ${SNAPSHOTS}
          where tenant = ? and execution_id = ? and seq <= ?
          order by seq desc limit 1),
       candidates as (
         select ev.*, row_number() over w as n, sum(octet_length(ev.payload::text)) over w as running
           from snap, lateral (
             select * from ${EVENTS} e
              where e.tenant = ? and e.execution_id = ? and e.seq > snap.seq
              order by e.seq limit (? - snap.seq) + ? + 1) ev
         window w as (order by ev.seq)),
       kept as (
         select c.* from candidates c, snap
          where c.n <= (? - snap.seq) + ? and (c.n = 1 or c.running <= ?))
       select snap.seq as snap_seq, snap.current_state as snap_state,
              case when row_number() over (order by e.seq) = 1 then snap.data end as snap_data,
              e.*, (select count(*) from candidates) as fetched
         from snap left join kept e on true
        order by e.seq`,
      [
        tenant,
        executionId,
        appliedSeq,
        tenant,
        executionId,
        appliedSeq,
        bounds.limit,
        appliedSeq,
        bounds.limit,
        bounds.maxBytes,
      ],
    );
    const rows = result.rows as Array<
      EventRow & { snap_seq: string; snap_state: string; snap_data: unknown; fetched: string }
    >;
    const first = rows[0];
    if (!first) return undefined;
    const snapshot: Snapshot = {
      seq: Number(first.snap_seq),
      state: first.snap_state,
      data: first.snap_data,
    };
    const replay: EventRecord[] = [];
    const waiting: EventRecord[] = [];
    let kept = 0;
    for (const row of rows) {
      if (row.event_id === null) continue;
      kept += 1;
      const event = toEvent(row);
      (event.seq <= appliedSeq ? replay : waiting).push(event);
    }
    return { base: { snapshot, events: replay }, waiting, more: Number(first.fetched) > kept };
  }

  async eventsAfter(
    tenant: string,
    executionId: string,
    afterSeq: number,
    bounds: ReadBounds,
  ): Promise<EventPage> {
    const query = {
      candidates: `select * from ${EVENTS}
                    where tenant = ? and execution_id = ? and seq > ?
                    order by seq`,
      bindings: [tenant, executionId, afterSeq],
      bytes: 'octet_length(c.payload::text)',
      order: 'seq',
    };
    const page = await boundedPage(this.knex, query, bounds, (row: EventRow) => toEvent(row));
    return { events: page.items, more: page.more };
  }

  readBatch(requests: readonly BatchReadRequest[], bounds: ReadBounds): Promise<BatchRead[]> {
    return readBatch(this.knex, requests, bounds);
  }

  async commitBatches(
    batches: readonly AppliedBatch[],
    beforeFence?: (batch: AppliedBatch) => Promise<void>,
  ): Promise<Set<string>> {
    if (!beforeFence) return commitBatches(this.knex, batches);
    return this.knex.transaction(async (trx) => {
      for (const batch of batches) await beforeFence(batch);
      return commitBatches(trx, batches);
    });
  }

  /**
   * One execution's batch through the many-executions statement (its fence
   * is the same): a fenced batch commits nothing and throws.
   */
  async commitBatch(batch: AppliedBatch, beforeFence?: () => Promise<void>): Promise<void> {
    if (batch.outcomes.length === 0) return;
    const committed = await this.commitBatches([batch], beforeFence);
    if (committed.size !== 1) throw new FencedError(batch.executionId, batch.expectedSeq);
  }

  async pendingActions(
    tenant: string,
    executionId: string,
    bounds: ReadBounds & { after?: ActionCursor },
  ): Promise<ActionIntent[]> {
    const after = bounds.after ?? { seq: -1, position: -1 };
    const { rows } = await this.knex.raw(
      `select * from (
         select a.id, a.event_id, a.action_name, a.attempts, e.seq, e.event_name, e.payload,
                row_number() over w as n, sum(octet_length(e.payload::text)) over w as running
           from ${ACTIONS} a
           join ${EVENTS} e on e.tenant = a.tenant and e.event_id = a.event_id
          where a.tenant = ? and a.execution_id = ? and a.status = 'pending'
            and (e.seq, a.id) > (?, ?)
         window w as (order by e.seq, a.id)
          order by e.seq, a.id limit ?) c
        where c.n = 1 or c.running <= ?
        order by c.seq, c.id`,
      [tenant, executionId, after.seq, after.position, bounds.limit, bounds.maxBytes],
    );
    return (rows as Array<Record<string, unknown>>).map((row) => ({
      cursor: { seq: Number(row.seq), position: Number(row.id) },
      tenant,
      executionId,
      eventId: row.event_id as string,
      eventName: row.event_name as string,
      payload: row.payload,
      actionName: row.action_name as string,
      attempts: row.attempts as number,
    }));
  }

  async recordActionAttempt(outcome: ActionOutcome): Promise<void> {
    await this.knex(ACTIONS)
      .where({ tenant: outcome.tenant, event_id: outcome.eventId, action_name: outcome.actionName })
      // Only a pending action takes an outcome: an attempt that outlived its
      // lock must not turn a recorded success or failure back into pending.
      .andWhere({ status: 'pending' })
      .update({
        status: outcome.status,
        attempts: this.knex.raw('attempts + 1'),
        result: outcome.result === undefined ? null : JSON.stringify(outcome.result),
        error: outcome.error ?? null,
        updated_at: this.knex.fn.now(),
      });
  }

  /**
   * Counts a failed attempt. Enqueue writes no processing record (an event
   * without one is pending), so the first failure creates it with
   * attempt_count 1 and later ones bump it. It is read from the event row,
   * so no record is made for an event id this tenant does not have (there
   * is no foreign key since migration 004). A 'completed' record is never
   * downgraded: an attempt that outlived another worker's commit lost.
   */
  async recordFailure(
    tenant: string,
    eventId: string,
    workerId: string,
    error: string,
  ): Promise<void> {
    await this.knex.raw(
      `insert into ${PROCESSING} as p (tenant, event_id, status, worker_id, attempt_count, error_message)
       select tenant, event_id, 'failed', ?, 1, ? from ${EVENTS} where tenant = ? and event_id = ?
       on conflict (event_id) do update
          set status = 'failed', worker_id = excluded.worker_id, attempt_count = p.attempt_count + 1,
              error_message = excluded.error_message, updated_at = now()
        where p.tenant = excluded.tenant and p.status <> 'completed'`,
      [workerId, error, tenant, eventId],
    );
  }

  async markDead(
    ref: ExecutionRef,
    error: string,
    culprit: DeadCulprit = { kind: 'unknown' },
  ): Promise<DeadMarking> {
    const nothing: DeadMarking = { deadEventIds: [], failedActions: [] };
    return this.knex.transaction(async (trx) => {
      const execution = await trx(EXECUTIONS)
        .where({ tenant: ref.tenant, execution_id: ref.executionId })
        .forUpdate()
        .first('applied_seq');
      if (!execution) return nothing;
      // Hazard: the event after applied_seq is not necessarily what failed. An
      // event enqueued while an action kept failing sits there untried, so a
      // known culprit is marked by identity, never by position.
      const blocking =
        culprit.kind === 'actions'
          ? undefined
          : await trx(EVENTS)
              .where({ tenant: ref.tenant, execution_id: ref.executionId, status: 'pending' })
              .andWhere('seq', Number(execution.applied_seq) + 1)
              .modify((query) => {
                if (culprit.kind === 'event') query.andWhere('event_id', culprit.eventId);
              })
              .first('event_id');
      // The culprit event was applied or buried meanwhile: nothing of it is left to mark.
      if (!blocking && culprit.kind === 'event') return nothing;
      if (blocking) {
        await trx(EVENTS)
          .where({ tenant: ref.tenant, event_id: blocking.event_id })
          .update({ status: 'dead', reason: error });
        await this.markProcessingDead(trx, ref.tenant, [blocking.event_id], error);
        await trx(EXECUTIONS)
          .where({ tenant: ref.tenant, execution_id: ref.executionId })
          .update({ status: 'blocked', updated_at: trx.fn.now() });
        return { deadEventIds: [blocking.event_id as string], failedActions: [] };
      }
      // The transitions went through; what keeps failing is an action.
      const failed = await trx(ACTIONS)
        .where({ tenant: ref.tenant, execution_id: ref.executionId, status: 'pending' })
        .andWhere('attempts', '>', 0)
        .update({ status: 'failed', error, updated_at: trx.fn.now() })
        .returning(['event_id', 'action_name']);
      const eventIds = [...new Set(failed.map((row: { event_id: string }) => row.event_id))];
      await this.markProcessingDead(trx, ref.tenant, eventIds, error);
      const failedActions = failed.map((row: { event_id: string; action_name: string }) => ({
        eventId: row.event_id,
        actionName: row.action_name,
      }));
      return { deadEventIds: eventIds, failedActions };
    });
  }

  private async markProcessingDead(
    trx: Knex.Transaction,
    tenant: string,
    eventIds: string[],
    error: string,
  ) {
    if (eventIds.length === 0) return;
    // An event buried before any failure was counted has no record yet. In
    // event_id order, so two transactions burying overlapping sets take the
    // records' locks in the same order.
    await trx.raw(
      `insert into ${PROCESSING} as p (tenant, event_id, status, error_message)
       select tenant, event_id, 'dead', ? from ${EVENTS}
        where tenant = ? and event_id = any(?::uuid[])
        order by event_id
       on conflict (event_id) do update
          set status = 'dead', error_message = excluded.error_message, updated_at = now()
        where p.tenant = excluded.tenant`,
      [error, tenant, eventIds] as unknown as Knex.RawBinding[],
    );
  }

  async reviveDead(tenant: string, eventId: string): Promise<ExecutionRef> {
    if (!isUuid(eventId)) throw new NotFoundError(`event ${eventId}`);
    return this.knex.transaction(async (trx) => {
      // No record reads as pending: such an event was never buried.
      const event = await trx(`${EVENTS} as e`)
        .leftJoin(`${PROCESSING} as p`, 'p.event_id', 'e.event_id')
        .where({ 'e.tenant': tenant, 'e.event_id': eventId })
        .first('e.execution_id', 'e.status', 'p.status as processing_status');
      if (!event) throw new NotFoundError(`event ${eventId}`);
      if (event.status !== 'dead' && event.processing_status !== 'dead') {
        throw new FlowpoolError(
          'NOT_DEAD',
          `event ${eventId} is not dead-lettered (status ${event.status})`,
        );
      }
      if (event.status === 'dead') {
        await trx(EVENTS)
          .where({ tenant, event_id: eventId })
          .update({ status: 'pending', reason: null });
        await trx(EXECUTIONS)
          .where({ tenant, execution_id: event.execution_id, status: 'blocked' })
          .update({ status: 'active', updated_at: trx.fn.now() });
      }
      await trx(ACTIONS)
        .where({ tenant, event_id: eventId, status: 'failed' })
        .update({ status: 'pending', attempts: 0, error: null, updated_at: trx.fn.now() });
      // Back to what no record means: waiting for a worker.
      await trx(PROCESSING).where({ tenant, event_id: eventId }).update({
        status: 'pending',
        attempt_count: 0,
        error_message: null,
        updated_at: trx.fn.now(),
      });
      return { tenant, executionId: event.execution_id, eventId };
    });
  }

  async listDead(
    tenant: string,
    limit: number,
  ): Promise<Array<EventRecord & { error: string | null }>> {
    // Every burial writes a record, so the left join is a safeguard: an event
    // dead without one still shows (last), and pending ones never do.
    const rows = await this.knex(`${EVENTS} as e`)
      .leftJoin(`${PROCESSING} as p`, 'p.event_id', 'e.event_id')
      .where('e.tenant', tenant)
      .andWhere((q) => q.where('e.status', 'dead').orWhere('p.status', 'dead'))
      .orderByRaw('p.updated_at desc nulls last')
      .limit(limit)
      .select('e.*', 'p.error_message');
    return rows.map((row: EventRow & { error_message: string | null }) => ({
      ...toEvent(row),
      error: row.error_message,
    }));
  }

  async history(
    tenant: string,
    executionId: string,
    options: { afterSeq?: number; limit?: number } = {},
  ): Promise<EventRecord[]> {
    const rows = await this.knex(EVENTS)
      .where({ tenant, execution_id: executionId })
      .andWhere('seq', '>', options.afterSeq ?? 0)
      .orderBy('seq', 'asc')
      .limit(options.limit ?? 1000);
    return (rows as EventRow[]).map(toEvent);
  }

  /** A page of history, bounded by count and payload bytes like every catch-up read. */
  historyPage(
    tenant: string,
    executionId: string,
    options: { afterSeq: number; limit: number; maxBytes: number },
  ): Promise<HistoryPage> {
    return this.eventsAfter(tenant, executionId, options.afterSeq, options);
  }

  async getEvent(
    tenant: string,
    eventId: string,
  ): Promise<(EventRecord & { error: string | null }) | undefined> {
    // Event ids are UUIDs; anything else names no event (and must not reach a uuid cast).
    if (!isUuid(eventId)) return undefined;
    const row = await this.knex(`${EVENTS} as e`)
      .leftJoin(`${PROCESSING} as p`, 'p.event_id', 'e.event_id')
      .where({ 'e.tenant': tenant, 'e.event_id': eventId })
      .first('e.*', 'p.error_message');
    return row ? { ...toEvent(row as EventRow), error: row.error_message ?? null } : undefined;
  }

  async snapshots(tenant: string, executionId: string): Promise<Snapshot[]> {
    const rows = await this.knex(SNAPSHOTS)
      .where({ tenant, execution_id: executionId })
      .orderBy('seq', 'asc');
    return rows.map((row) => ({ seq: Number(row.seq), state: row.current_state, data: row.data }));
  }

  async actionResults(
    tenant: string,
    executionId: string,
  ): Promise<Array<ActionOutcome & { attempts: number }>> {
    const rows = await this.knex(ACTIONS)
      .where({ tenant, execution_id: executionId })
      .orderBy('id', 'asc');
    return rows.map((row) => ({
      tenant,
      eventId: row.event_id,
      actionName: row.action_name,
      status: row.status,
      result: row.result ?? undefined,
      error: row.error ?? undefined,
      attempts: row.attempts,
    }));
  }

  async ping(): Promise<void> {
    await this.knex.raw('select 1');
  }
}
