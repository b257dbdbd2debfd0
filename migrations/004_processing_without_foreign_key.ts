import type { Knex } from 'knex';

/**
 * Processing records lose their foreign key to workflow_events.
 *
 * Enqueue no longer writes a processing record: a worker writes it when it
 * first decides, fails or buries the event (an event without one is
 * pending), so enqueue writes one row per event instead of two. The key
 * cost every record written a probe of the events' key and a row lock on
 * the event, in a trigger run row by row. Nothing deletes events, and every
 * statement that writes a record reads its event id from the event row (or
 * from events it is updating in the same statement), so records stay
 * consistent without it.
 *
 * Dropping the constraint takes a brief exclusive lock on both tables.
 * Down puts it back, which checks every record against the events.
 */
const CONSTRAINT = 'workflow_event_processing_event_id_foreign';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`alter table workflow_event_processing drop constraint if exists ${CONSTRAINT}`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(
    `alter table workflow_event_processing add constraint ${CONSTRAINT}
       foreign key (event_id) references workflow_events (event_id) on delete cascade`,
  );
}
