import type { Knex } from 'knex';
import { boundedPage } from './bounded-page.js';
import type { ActionStatus } from './event-store.js';
import { ACTIONS, EVENTS, SNAPSHOTS } from './tables.js';

/**
 * Reads of one execution's actions and snapshots, and of a tenant's recent
 * throughput, for people looking at it. Each page is bounded by a count and
 * by the bytes of JSON it carries (always at least one row), like history.
 */

export interface PageBounds {
  limit: number;
  maxBytes: number;
}

/** Where a page of actions ended: the event's seq and the action row's insertion order. */
export interface ActionPosition {
  seq: number;
  id: number;
}

export interface ActionRecord {
  eventId: string;
  seq: number;
  eventName: string;
  actionName: string;
  status: ActionStatus;
  attempts: number;
  result: unknown;
  error: string | null;
  createdAt: Date;
  updatedAt: Date;
  position: ActionPosition;
}

export interface SnapshotRecord {
  seq: number;
  state: string;
  data: unknown;
  createdAt: Date;
}

export interface Paged<T> {
  items: T[];
  more: boolean;
}

interface ActionRow {
  id: string;
  event_id: string;
  seq: string;
  event_name: string;
  action_name: string;
  status: ActionStatus;
  attempts: number;
  result: unknown;
  error: string | null;
  created_at: Date;
  updated_at: Date;
}

/** Actions in (event seq, insertion) order after `after`. */
export function actionsPage(
  knex: Knex,
  tenant: string,
  executionId: string,
  bounds: PageBounds & { after?: ActionPosition },
): Promise<Paged<ActionRecord>> {
  const after = bounds.after ?? { seq: -1, id: -1 };
  const candidates = `select a.id, a.event_id, a.action_name, a.status, a.attempts, a.result, a.error,
                             a.created_at, a.updated_at, e.seq, e.event_name
                        from ${ACTIONS} a
                        join ${EVENTS} e on e.tenant = a.tenant and e.event_id = a.event_id
                       where a.tenant = ? and a.execution_id = ? and (e.seq, a.id) > (?, ?)
                       order by e.seq, a.id`;
  const query = {
    candidates,
    bindings: [tenant, executionId, after.seq, after.id],
    bytes: 'coalesce(octet_length(c.result::text), 0) + coalesce(octet_length(c.error), 0)',
    order: 'seq, id',
  };
  return boundedPage(knex, query, bounds, (row: ActionRow) => ({
    eventId: row.event_id,
    seq: Number(row.seq),
    eventName: row.event_name,
    actionName: row.action_name,
    status: row.status,
    attempts: row.attempts,
    result: row.result ?? null,
    error: row.error,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    position: { seq: Number(row.seq), id: Number(row.id) },
  }));
}

interface SnapshotRow {
  seq: string;
  current_state: string;
  data: unknown;
  created_at: Date;
}

/** Snapshots newest first, with a seq below `beforeSeq`. */
export function snapshotsPage(
  knex: Knex,
  tenant: string,
  executionId: string,
  bounds: PageBounds & { beforeSeq?: number },
): Promise<Paged<SnapshotRecord>> {
  const query = {
    candidates: `select seq, current_state, data, created_at from ${SNAPSHOTS}
                  where tenant = ? and execution_id = ? and seq < ?
                  order by seq desc`,
    bindings: [tenant, executionId, bounds.beforeSeq ?? Number.MAX_SAFE_INTEGER],
    bytes: 'octet_length(c.data::text)',
    order: 'seq desc',
  };
  return boundedPage(knex, query, bounds, (row: SnapshotRow) => ({
    seq: Number(row.seq),
    state: row.current_state,
    data: row.data,
    createdAt: row.created_at,
  }));
}

export interface DecidedBucket {
  /** Start of the bucket. */
  at: Date;
  applied: number;
  rejected: number;
}

/**
 * A tenant's events decided (applied or rejected) per `bucketSeconds`, over
 * the last `buckets` buckets, oldest first, empty buckets included. The
 * buckets follow PostgreSQL's clock, the one applied_at was written with.
 */
export async function decidedPerBucket(
  knex: Knex,
  tenant: string,
  bucketSeconds: number,
  buckets: number,
): Promise<DecidedBucket[]> {
  const span = (buckets - 1) * bucketSeconds;
  // One range scan of the tenant's recent decisions (the index covers status), then the
  // buckets filled in, empty ones included.
  const { rows } = await knex.raw<{
    rows: Array<{ start: string; applied: string; rejected: string }>;
  }>(
    `with t as (select floor(extract(epoch from now()) / ?)::bigint * ? as current),
     counted as (
       select floor(extract(epoch from e.applied_at) / ?)::bigint * ? as start,
              count(*) filter (where e.status = 'applied') as applied,
              count(*) filter (where e.status = 'rejected') as rejected
         from ${EVENTS} e, t
        where e.tenant = ? and e.applied_at >= to_timestamp(t.current - ?)
        group by 1)
     select b.start, coalesce(c.applied, 0) as applied, coalesce(c.rejected, 0) as rejected
       from t, generate_series(t.current - ?::bigint, t.current, ?::bigint) as b(start)
       left join counted c on c.start = b.start
      order by b.start`,
    [bucketSeconds, bucketSeconds, bucketSeconds, bucketSeconds, tenant, span, span, bucketSeconds],
  );
  return rows.map((row) => ({
    at: new Date(Number(row.start) * 1000),
    applied: Number(row.applied),
    rejected: Number(row.rejected),
  }));
}
