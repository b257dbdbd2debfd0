import type { Knex } from 'knex';

/**
 * The five tables of the design. Every row carries `tenant` and every unique
 * key starts with it, so one tenant's ids never collide with another's.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('workflow_executions', (t) => {
    t.bigIncrements('id');
    t.text('tenant').notNullable();
    t.text('execution_id').notNullable();
    t.text('workflow_name').notNullable();
    t.integer('workflow_version').notNullable();
    t.text('current_state').notNullable();
    t.jsonb('data').notNullable().defaultTo('{}');
    t.text('status').notNullable().defaultTo('active');
    // next_seq is the seq the next enqueued event gets; applied_seq fences writers.
    t.bigInteger('next_seq').notNullable().defaultTo(1);
    t.bigInteger('applied_seq').notNullable().defaultTo(0);
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['tenant', 'execution_id']);
  });
  await knex.raw(
    `alter table workflow_executions add constraint workflow_executions_status_check
       check (status in ('active', 'completed', 'blocked'))`,
  );

  await knex.schema.createTable('workflow_events', (t) => {
    t.bigIncrements('id');
    t.text('tenant').notNullable();
    t.uuid('event_id').notNullable().unique();
    t.text('execution_id').notNullable();
    t.bigInteger('seq').notNullable();
    t.text('event_name').notNullable();
    t.jsonb('payload').notNullable().defaultTo('{}');
    t.text('user_id');
    t.text('idempotency_key');
    t.text('from_state');
    t.text('to_state');
    t.text('status').notNullable().defaultTo('pending');
    t.text('reason');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('applied_at', { useTz: true });
    t.timestamp('published_at', { useTz: true });
    t.unique(['tenant', 'execution_id', 'seq']);
    t.unique(['tenant', 'execution_id', 'idempotency_key']);
  });
  await knex.raw(
    `alter table workflow_events add constraint workflow_events_status_check
       check (status in ('pending', 'applied', 'rejected', 'dead'))`,
  );
  // The relay scans only events still waiting, so index just those.
  await knex.raw(
    `create index workflow_events_waiting on workflow_events (created_at) where status = 'pending'`,
  );

  await knex.schema.createTable('workflow_event_processing', (t) => {
    t.bigIncrements('processing_id');
    t.text('tenant').notNullable();
    t.uuid('event_id')
      .notNullable()
      .unique()
      .references('event_id')
      .inTable('workflow_events')
      .onDelete('CASCADE');
    t.text('status').notNullable().defaultTo('pending');
    t.text('worker_id');
    t.integer('attempt_count').notNullable().defaultTo(0);
    t.text('error_message');
    t.jsonb('result');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('completed_at', { useTz: true });
  });
  await knex.raw(
    `alter table workflow_event_processing add constraint workflow_event_processing_status_check
       check (status in ('pending', 'published', 'processing', 'completed', 'failed', 'dead'))`,
  );

  await knex.schema.createTable('workflow_snapshots', (t) => {
    t.bigIncrements('id');
    t.text('tenant').notNullable();
    t.text('execution_id').notNullable();
    t.bigInteger('seq').notNullable();
    t.text('current_state').notNullable();
    t.jsonb('data').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['tenant', 'execution_id', 'seq']);
  });

  await knex.schema.createTable('workflow_action_results', (t) => {
    t.bigIncrements('id');
    t.text('tenant').notNullable();
    t.uuid('event_id').notNullable();
    t.text('execution_id').notNullable();
    t.text('action_name').notNullable();
    t.text('status').notNullable().defaultTo('pending');
    t.integer('attempts').notNullable().defaultTo(0);
    t.jsonb('result');
    t.text('error');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['tenant', 'event_id', 'action_name']);
    t.index(['tenant', 'execution_id', 'status']);
  });
  await knex.raw(
    `alter table workflow_action_results add constraint workflow_action_results_status_check
       check (status in ('pending', 'succeeded', 'failed'))`,
  );
}

export async function down(knex: Knex): Promise<void> {
  for (const table of [
    'workflow_action_results',
    'workflow_snapshots',
    'workflow_event_processing',
    'workflow_events',
    'workflow_executions',
  ]) {
    await knex.schema.dropTableIfExists(table);
  }
}
