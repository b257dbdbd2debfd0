import type { Knex } from 'knex';

/**
 * Indexes for reading executions the way people look at them: newest first
 * (optionally of one workflow), by id prefix, with what is stuck, and a
 * tenant's recent throughput. Built concurrently, outside a transaction, so
 * an existing deployment keeps writing while they build.
 */
export const config = { transaction: false };

const INDEXES: ReadonlyArray<readonly [name: string, definition: string]> = [
  // The list's order and keyset: (created_at, execution_id) desc within a tenant.
  [
    'workflow_executions_recent',
    'workflow_executions (tenant, created_at desc, execution_id desc)',
  ],
  [
    'workflow_executions_recent_by_workflow',
    'workflow_executions (tenant, workflow_name, created_at desc, execution_id desc)',
  ],
  // LIKE 'prefix%' uses a btree only with pattern ops (the database collation may not be C).
  ['workflow_executions_id_prefix', 'workflow_executions (tenant, execution_id text_pattern_ops)'],
  // Blocked: the few processing records failing or dead.
  [
    'workflow_event_processing_failing',
    `workflow_event_processing (tenant, event_id) where status in ('failed', 'dead')`,
  ],
  // Events decided per time bucket; status included so the count reads the index alone.
  [
    'workflow_events_decided',
    'workflow_events (tenant, applied_at) include (status) where applied_at is not null',
  ],
];

export async function up(knex: Knex): Promise<void> {
  for (const [name, definition] of INDEXES) {
    // A concurrent build that failed leaves an invalid index behind: drop it and build again.
    await knex.raw(`drop index concurrently if exists ${name}`);
    await knex.raw(`create index concurrently ${name} on ${definition}`);
  }
}

export async function down(knex: Knex): Promise<void> {
  for (const [name] of INDEXES) await knex.raw(`drop index concurrently if exists ${name}`);
}
