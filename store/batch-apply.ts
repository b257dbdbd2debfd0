/**
 * The statements of batched apply: many executions read in one statement
 * and committed in one, each behind its own fence.
 */
import type { Knex } from 'knex';
import type {
  AppliedBatch,
  BatchRead,
  BatchReadRequest,
  EventRecord,
  ReadBounds,
  Snapshot,
} from './event-store.js';
import { prepared, runPrepared, unnestParams } from './prepared.js';
import { type EventRow, type ExecutionRow, toEvent, toExecution } from './rows.js';
import { ACTIONS, EVENTS, EXECUTIONS, PROCESSING, SNAPSHOTS } from './tables.js';

/** An event row as json_agg renders it: timestamps become text. */
type JsonEventRow = Omit<EventRow, 'created_at' | 'applied_at' | 'published_at'> & {
  created_at: string;
  applied_at: string | null;
  published_at: string | null;
};

function eventFromJson(row: JsonEventRow): EventRecord {
  return toEvent({
    ...row,
    created_at: new Date(row.created_at),
    applied_at: row.applied_at === null ? null : new Date(row.applied_at),
    published_at: row.published_at === null ? null : new Date(row.published_at),
  });
}

const READ_BATCH = prepared(
  'flowpool_read_batch',
  `with req as (
     select * from ${unnestParams('text', 'text', 'bigint')}
         as r(tenant, execution_id, cached_seq))
   select x.tenant, x.execution_id, x.workflow_name, x.workflow_version, x.current_state, x.data,
          x.status, x.next_seq, x.applied_seq, x.created_at, x.updated_at,
          exists (select 1 from ${ACTIONS} a
                   where a.tenant = x.tenant and a.execution_id = x.execution_id and a.status = 'pending')
            as has_pending_actions,
          s.seq as snap_seq, s.current_state as snap_state, s.data as snap_data,
          ev.events, ev.fetched
     from req r
     join ${EXECUTIONS} x on x.tenant = r.tenant and x.execution_id = r.execution_id
     left join lateral (
       select sn.seq, sn.current_state, sn.data from ${SNAPSHOTS} sn
        where sn.tenant = x.tenant and sn.execution_id = x.execution_id and sn.seq <= x.applied_seq
          and r.cached_seq is distinct from x.applied_seq
        order by sn.seq desc limit 1) s on true
     cross join lateral (
       select coalesce(json_agg(c order by c.seq)
                         filter (where c.n <= (x.applied_seq - coalesce(s.seq, x.applied_seq)) + ?
                                   and (c.n = 1 or c.running <= ?)), '[]'::json) as events,
              count(*) as fetched
         from (select e.*, row_number() over w as n, sum(octet_length(e.payload::text)) over w as running
                 from (select * from ${EVENTS} e
                        where e.tenant = x.tenant and e.execution_id = x.execution_id
                          and e.seq > coalesce(s.seq, x.applied_seq)
                        order by e.seq
                        limit (x.applied_seq - coalesce(s.seq, x.applied_seq)) + ? + 1) e
               window w as (order by e.seq)) c) ev`,
);

/**
 * Per execution: its row, whether it has pending actions, and the events a
 * catch-up needs. When the caller already holds the folded state at the
 * current applied_seq (`cachedSeq`), only the events after it; otherwise the
 * latest snapshot at or below applied_seq, the decided events after it, and
 * the events waiting after applied_seq. Either way at most `limit` events
 * past applied_seq and no more than `maxBytes` of payload per execution
 * (always at least one event), counted in PostgreSQL.
 */
export async function readBatch(
  db: Knex,
  requests: readonly BatchReadRequest[],
  bounds: ReadBounds,
): Promise<BatchRead[]> {
  if (requests.length === 0) return [];
  const { rows } = await runPrepared(db, READ_BATCH, [
    requests.map((r) => r.tenant),
    requests.map((r) => r.executionId),
    requests.map((r) => r.cachedSeq ?? null),
    bounds.limit,
    bounds.maxBytes,
    bounds.limit,
  ]);
  return (
    rows as Array<
      ExecutionRow & {
        has_pending_actions: boolean;
        snap_seq: string | null;
        snap_state: string | null;
        snap_data: unknown;
        events: JsonEventRow[];
        fetched: string;
      }
    >
  ).map((row) => {
    const execution = toExecution(row);
    const events = row.events.map(eventFromJson);
    const snapshot: Snapshot | undefined =
      row.snap_seq === null
        ? undefined
        : { seq: Number(row.snap_seq), state: row.snap_state!, data: row.snap_data };
    return {
      loaded: { execution, hasPendingActions: row.has_pending_actions },
      base: snapshot
        ? { snapshot, events: events.filter((e) => e.seq <= execution.appliedSeq) }
        : undefined,
      waiting: events.filter((e) => e.seq > execution.appliedSeq),
      more: Number(row.fetched) > events.length,
    };
  });
}

const COMMIT_BATCHES = prepared(
  'flowpool_commit_batches',
  `with input as (
     select * from ${unnestParams('text', 'text', 'bigint', 'bigint', 'text', 'text', 'text')}
       as b(tenant, execution_id, expected, applied, state, data, status)),
   locked as (
     select x.id, b.* from ${EXECUTIONS} x
       join input b on x.tenant = b.tenant and x.execution_id = b.execution_id and x.applied_seq = b.expected
      order by x.tenant, x.execution_id
      for update of x),
   fence as (
     update ${EXECUTIONS} x
        set applied_seq = l.applied, current_state = l.state, data = l.data::jsonb, status = l.status,
            updated_at = now()
       from locked l where x.id = l.id
     returning x.tenant, x.execution_id),
   outcomes as (
     select v.* from ${unnestParams('text', 'text', 'uuid', 'text', 'text', 'text', 'text')}
         as v(tenant, execution_id, event_id, status, from_state, to_state, reason)
       join fence f on f.tenant = v.tenant and f.execution_id = v.execution_id),
   events as (
     update ${EVENTS} e
        set status = v.status, from_state = v.from_state, to_state = v.to_state, reason = v.reason,
            applied_at = now()
       from outcomes v where e.tenant = v.tenant and e.event_id = v.event_id),
   processing as (
     insert into ${PROCESSING} as p (tenant, event_id, status, worker_id, attempt_count, result, completed_at)
     select v.tenant, v.event_id, 'completed', ?, 1, jsonb_build_object('status', v.status), now()
       from outcomes v
      order by v.event_id
     on conflict (event_id) do update
        set status = 'completed', worker_id = excluded.worker_id, attempt_count = p.attempt_count + 1,
            result = excluded.result, error_message = null, updated_at = now(), completed_at = now()
      where p.tenant = excluded.tenant),
   intents as (
     insert into ${ACTIONS} (tenant, event_id, execution_id, action_name)
     select i.tenant, i.event_id, i.execution_id, i.action_name
       from ${unnestParams('text', 'text', 'uuid', 'text')} as i(tenant, execution_id, event_id, action_name)
       join fence f on f.tenant = i.tenant and f.execution_id = i.execution_id
     on conflict (tenant, event_id, action_name) do nothing),
   snapshot as (
     insert into ${SNAPSHOTS} (tenant, execution_id, seq, current_state, data)
     select s.tenant, s.execution_id, s.seq, s.state, s.data::jsonb
       from ${unnestParams('text', 'text', 'bigint', 'text', 'text')} as s(tenant, execution_id, seq, state, data)
       join fence f on f.tenant = s.tenant and f.execution_id = s.execution_id
     on conflict (tenant, execution_id, seq) do nothing)
   select tenant, execution_id from fence`,
);

/**
 * Commits many executions' batches in one statement (one transaction), each
 * if and only if its applied_seq still equals its `expectedSeq`. The rows
 * are locked in (tenant, execution_id) order, so two such statements never
 * wait on each other in a cycle. Returns the keys (`executionKey`) of the
 * executions that committed; a fenced one writes nothing.
 *
 * Each decided event's processing record is written here (created if no
 * failure made it first). Hazard: an upsert may not touch a row twice in
 * one statement, so an event must appear in one batch only, as it does:
 * a batch is one execution's events, and one execution commits once per
 * call (its fence).
 */
export async function commitBatches(
  db: Knex,
  batches: readonly AppliedBatch[],
): Promise<Set<string>> {
  if (batches.length === 0) return new Set();
  const outcomes = batches.flatMap((b) => b.outcomes.map((o) => ({ b, o })));
  const intents = outcomes.flatMap(({ b, o }) =>
    o.kind === 'applied' ? o.actions.map((action) => ({ b, eventId: o.eventId, action })) : [],
  );
  const snapshots = batches.filter((b) => b.snapshot !== undefined);
  const { rows } = await runPrepared(db, COMMIT_BATCHES, [
    batches.map((b) => b.tenant),
    batches.map((b) => b.executionId),
    batches.map((b) => b.expectedSeq),
    batches.map((b) => b.outcomes.at(-1)!.seq),
    batches.map((b) => b.state),
    batches.map((b) => JSON.stringify(b.data)),
    batches.map((b) => b.status),
    outcomes.map(({ b }) => b.tenant),
    outcomes.map(({ b }) => b.executionId),
    outcomes.map(({ o }) => o.eventId),
    outcomes.map(({ o }) => o.kind),
    outcomes.map(({ o }) => o.fromState),
    outcomes.map(({ o }) => (o.kind === 'applied' ? o.toState : null)),
    outcomes.map(({ o }) => (o.kind === 'rejected' ? o.reason : null)),
    batches[0]!.workerId,
    intents.map(({ b }) => b.tenant),
    intents.map(({ b }) => b.executionId),
    intents.map((i) => i.eventId),
    intents.map((i) => i.action),
    snapshots.map((b) => b.tenant),
    snapshots.map((b) => b.executionId),
    snapshots.map((b) => b.snapshot!.seq),
    snapshots.map((b) => b.snapshot!.state),
    snapshots.map((b) => JSON.stringify(b.snapshot!.data)),
  ]);
  return new Set(
    (rows as Array<{ tenant: string; execution_id: string }>).map((r) =>
      executionKey(r.tenant, r.execution_id),
    ),
  );
}

/** One execution's name as a map key: unambiguous whatever the characters. */
export function executionKey(tenant: string, executionId: string): string {
  return JSON.stringify([tenant, executionId]);
}
