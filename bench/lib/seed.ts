/**
 * Backlogs written straight into the tables, in the state enqueue leaves
 * them (event rows pending, no processing records yet, next_seq bumped,
 * published), so a run measures applying and not the seeding.
 */

import type { Redis } from 'ioredis';
import type { Knex } from 'knex';

export const FLOWPOOL_TABLES = [
  'workflow_action_results',
  'workflow_snapshots',
  'workflow_event_processing',
  'workflow_events',
  'workflow_executions',
];

export const INITIAL_DATA = {
  title: null,
  requester: null,
  assignee: null,
  commentCount: 0,
  resolvedCount: 0,
};

export async function truncateFlowpool(knex: Knex): Promise<void> {
  await knex.raw(`truncate ${FLOWPOOL_TABLES.join(', ')} restart identity`);
}

export function executionId(i: number): string {
  return `x${String(i).padStart(6, '0')}`;
}

/** `executions` ticket-lifecycle executions, each with `perExecution` pending comments. */
export async function seedFlowpoolBacklog(
  knex: Knex,
  tenant: string,
  executions: number,
  perExecution: number,
): Promise<void> {
  const data = JSON.stringify(INITIAL_DATA);
  await knex.raw(
    `insert into workflow_executions (tenant, execution_id, workflow_name, workflow_version, current_state, data, next_seq)
     select ?, 'x' || lpad(i::text, 6, '0'), 'ticket-lifecycle', 1, 'new', ?::jsonb, ?
       from generate_series(0, ? - 1) as i`,
    [tenant, data, perExecution + 1, executions],
  );
  await knex.raw(
    `insert into workflow_snapshots (tenant, execution_id, seq, current_state, data)
     select tenant, execution_id, 0, 'new', data from workflow_executions where tenant = ?`,
    [tenant],
  );
  if (perExecution === 0) return;
  await knex.raw(
    `insert into workflow_events (tenant, event_id, execution_id, seq, event_name, payload, published_at)
     select ?, gen_random_uuid(), 'x' || lpad(i::text, 6, '0'), s, 'comment', jsonb_build_object('text', 'c' || s), now()
       from generate_series(0, ? - 1) as i, generate_series(1, ?) as s`,
    [tenant, executions, perExecution],
  );
  await knex.raw('analyze');
}

/** The notices enqueue would have sent, one per event, in arrival order (round robin). */
export async function noticesFor(
  knex: Knex,
  tenant: string,
): Promise<Array<{ execution: string; event: string }>> {
  const rows = await knex.raw(
    `select execution_id, event_id from workflow_events where tenant = ? and status = 'pending' order by seq, execution_id`,
    [tenant],
  );
  return rows.rows.map((r: { execution_id: string; event_id: string }) => ({
    execution: r.execution_id,
    event: r.event_id,
  }));
}

export async function publishNotices(
  redis: Redis,
  stream: string,
  tenant: string,
  notices: ReadonlyArray<{ execution: string; event: string }>,
): Promise<void> {
  for (let i = 0; i < notices.length; i += 2_000) {
    const pipeline = redis.pipeline();
    for (const n of notices.slice(i, i + 2_000))
      pipeline.xadd(stream, '*', 'tenant', tenant, 'execution', n.execution, 'event', n.event);
    await pipeline.exec();
  }
}

/** The peers' target: one row per execution, and a ledger that makes the update exactly-once. */
export async function preparePeerTables(knex: Knex, executions: number): Promise<void> {
  await knex.raw(
    `create table if not exists bench_rows (id text primary key, n integer not null default 0)`,
  );
  await knex.raw(
    `create table if not exists bench_applied (event_id text primary key, applied_at timestamptz not null default clock_timestamp())`,
  );
  await knex.raw('truncate bench_rows, bench_applied');
  await knex.raw(
    `insert into bench_rows (id) select 'x' || lpad(i::text, 6, '0') from generate_series(0, ? - 1) as i`,
    [executions],
  );
}

/**
 * What a peer's job does for one event: record the event id and bump the
 * execution's row in one statement (one transaction); a second run of the
 * same job finds the ledger row and changes nothing.
 */
export const PEER_APPLY_SQL = `with ins as (insert into bench_applied (event_id) values ($1) on conflict do nothing returning 1)
update bench_rows set n = n + 1 where id = $2 and exists (select 1 from ins)`;
