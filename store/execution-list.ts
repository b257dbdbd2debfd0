import type { Knex } from 'knex';
import type { ExecutionStatus } from './event-store.js';
import { EVENTS, EXECUTIONS, PROCESSING } from './tables.js';

/** Which of a tenant's executions a list or a count covers; every field narrows it. */
export interface ExecutionFilter {
  workflow?: string;
  state?: string;
  status?: ExecutionStatus;
  blocked?: boolean;
  /** Inclusive; ISO 8601 text with its zone (microseconds kept, which a Date would drop). */
  createdAfter?: string;
  /** Exclusive; as createdAfter. */
  createdBefore?: string;
  /** Execution id prefix. */
  idPrefix?: string;
}

/** Where a page of the list ended: the last row's keys, created_at exactly as PostgreSQL has it. */
export interface ListPosition {
  /** created_at as PostgreSQL prints timestamptz (microseconds and offset kept). */
  createdAt: string;
  executionId: string;
}

export interface ListedExecution {
  executionId: string;
  workflowName: string;
  workflowVersion: number;
  state: string;
  status: ExecutionStatus;
  blocked: boolean;
  createdAt: Date;
  updatedAt: Date;
  appliedSeq: number;
  nextSeq: number;
  position: ListPosition;
}

export interface ExecutionCounts {
  byState: Array<{ workflow: string; state: string; count: number }>;
  byStatus: Array<{ status: ExecutionStatus; count: number }>;
  blocked: number;
  /** byState was cut at its bound. */
  truncated: boolean;
}

/**
 * Blocked: the execution needs a person. Its status is 'blocked' (a dead
 * event holds it), or an event of it has a processing record that is dead
 * (its actions failed for good) or failed (a worker is retrying it now).
 * The processing table has no execution_id, so the match goes through the
 * event row. Uncorrelated on purpose: PostgreSQL reads the few failing
 * records once (partial index) and hashes them, instead of probing per
 * execution; a correlated EXISTS cost seconds on a 200,000-row tenant.
 */
function blockedSql(knex: Knex, tenant: string): Knex.Raw {
  return knex.raw(
    `(x.status = 'blocked' or x.execution_id in (
       select e.execution_id from ${PROCESSING} p join ${EVENTS} e on e.event_id = p.event_id
        where p.tenant = ? and p.status in ('failed', 'dead') and e.tenant = ?))`,
    [tenant, tenant],
  );
}

/** `_` and `%` are LIKE wildcards and `_` is an id character: escape them. */
function likePrefix(prefix: string): string {
  return `${prefix.replace(/[\\%_]/g, '\\$&')}%`;
}

function applyFilter(
  knex: Knex,
  query: Knex.QueryBuilder,
  tenant: string,
  filter: ExecutionFilter,
): void {
  query.where('x.tenant', tenant);
  if (filter.workflow !== undefined) query.andWhere('x.workflow_name', filter.workflow);
  if (filter.state !== undefined) query.andWhere('x.current_state', filter.state);
  if (filter.status !== undefined) query.andWhere('x.status', filter.status);
  if (filter.createdAfter !== undefined) {
    query.andWhereRaw('x.created_at >= ?::timestamptz', [filter.createdAfter]);
  }
  if (filter.createdBefore !== undefined) {
    query.andWhereRaw('x.created_at < ?::timestamptz', [filter.createdBefore]);
  }
  if (filter.idPrefix !== undefined) {
    query.andWhereRaw(`x.execution_id like ? escape '\\'`, [likePrefix(filter.idPrefix)]);
  }
  if (filter.blocked === true) query.andWhere(blockedSql(knex, tenant));
  if (filter.blocked === false) query.andWhereNot(blockedSql(knex, tenant));
}

interface ListRow {
  execution_id: string;
  workflow_name: string;
  workflow_version: number;
  current_state: string;
  status: ExecutionStatus;
  blocked: boolean;
  created_at: Date;
  created_key: string;
  updated_at: Date;
  applied_seq: string | number;
  next_seq: string | number;
}

/**
 * One page of a tenant's executions, newest first (created_at desc, then
 * execution_id desc), after `after`. Keyset paging: a row inserted or
 * changed meanwhile never makes another row appear twice or go missing.
 */
export async function listExecutions(
  knex: Knex,
  tenant: string,
  filter: ExecutionFilter,
  page: { limit: number; after?: ListPosition },
): Promise<{ executions: ListedExecution[]; more: boolean }> {
  const query = knex(`${EXECUTIONS} as x`).select(
    'x.execution_id',
    'x.workflow_name',
    'x.workflow_version',
    'x.current_state',
    'x.status',
    'x.created_at',
    'x.updated_at',
    'x.applied_seq',
    'x.next_seq',
    // Text keeps the microseconds a JavaScript Date would drop: the cursor must be exact.
    knex.raw('x.created_at::text as created_key'),
    knex.raw('? as blocked', [blockedSql(knex, tenant)]),
  );
  applyFilter(knex, query, tenant, filter);
  if (page.after !== undefined) {
    query.andWhereRaw('(x.created_at, x.execution_id) < (?::timestamptz, ?)', [
      page.after.createdAt,
      page.after.executionId,
    ]);
  }
  query
    .orderBy([
      { column: 'x.created_at', order: 'desc' },
      { column: 'x.execution_id', order: 'desc' },
    ])
    .limit(page.limit + 1);
  const rows = (await query) as ListRow[];
  const more = rows.length > page.limit;
  return { executions: rows.slice(0, page.limit).map(toListed), more };
}

function toListed(row: ListRow): ListedExecution {
  return {
    executionId: row.execution_id,
    workflowName: row.workflow_name,
    workflowVersion: row.workflow_version,
    state: row.current_state,
    status: row.status,
    blocked: row.blocked,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    appliedSeq: Number(row.applied_seq),
    nextSeq: Number(row.next_seq),
    position: { createdAt: row.created_key, executionId: row.execution_id },
  };
}

interface GroupRow {
  workflow: string | null;
  state: string | null;
  status: ExecutionStatus | null;
  by_status: boolean;
  count: string;
  blocked: string;
}

/**
 * Counts of the filtered executions by workflow and state (at most
 * `maxGroups`, largest first), by status, and how many are blocked: one
 * scan of the tenant's rows (grouping sets), not one per answer.
 */
export async function countExecutions(
  knex: Knex,
  tenant: string,
  filter: ExecutionFilter,
  maxGroups: number,
): Promise<ExecutionCounts> {
  const grouped = knex(`${EXECUTIONS} as x`)
    .select(
      'x.workflow_name as workflow',
      'x.current_state as state',
      'x.status',
      knex.raw('grouping(x.status) = 0 as by_status'),
      knex.raw('count(*) as count'),
      knex.raw('count(*) filter (where ?) as blocked', [blockedSql(knex, tenant)]),
    )
    .groupByRaw('grouping sets ((x.workflow_name, x.current_state), (x.status))');
  applyFilter(knex, grouped, tenant, filter);
  // Statuses first (three at most), then the largest groups; one more than kept tells truncation.
  const rows = (await knex
    .select('*')
    .from(grouped.as('g'))
    .orderBy([
      { column: 'by_status', order: 'desc' },
      { column: 'count', order: 'desc' },
      { column: 'workflow', order: 'asc' },
      { column: 'state', order: 'asc' },
      { column: 'status', order: 'asc' },
    ])
    .limit(maxGroups + 4)) as GroupRow[];
  const statuses = rows.filter((row) => row.by_status);
  const states = rows.filter((row) => !row.by_status);
  return {
    byState: states.slice(0, maxGroups).map((row) => ({
      workflow: row.workflow ?? '',
      state: row.state ?? '',
      count: Number(row.count),
    })),
    byStatus: statuses
      .map((row) => ({ status: row.status as ExecutionStatus, count: Number(row.count) }))
      .sort((a, b) => (a.status < b.status ? -1 : 1)),
    blocked: statuses.reduce((sum, row) => sum + Number(row.blocked), 0),
    truncated: states.length > maxGroups,
  };
}
