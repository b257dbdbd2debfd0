import type { Knex } from 'knex';

/**
 * Room on each page of workflow_executions for its rows' next versions.
 * An execution's row is rewritten by every group commit that enqueues to
 * it (next_seq) and every batch that applies its events (applied_seq,
 * current_state, data, status, updated_at). None of those columns is in an
 * index, so when the new version fits on the row's page PostgreSQL makes
 * it a HOT update: no new entry in any of the table's indexes (five since
 * 002). Packed full, as by default, almost no page has that room and each
 * rewrite added an entry to every index.
 *
 * Hazard: an index (or an index predicate) on any of those columns makes
 * every such rewrite a full one again; migrations.test.ts checks it.
 *
 * Only pages written from now on keep the room; rows already stored move
 * to such pages as they are rewritten. Changing the setting takes a lock
 * that lets reads and writes go on.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('alter table workflow_executions set (fillfactor = 50)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('alter table workflow_executions reset (fillfactor)');
}
