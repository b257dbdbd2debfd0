import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestDatabase, testDatabase } from '../test/support/isolation.js';
import { migrateDown, migrateLatest } from './index.js';

const TABLES = [
  'workflow_executions',
  'workflow_events',
  'workflow_event_processing',
  'workflow_snapshots',
  'workflow_action_results',
];

async function existingTables(db: TestDatabase): Promise<string[]> {
  const rows = await db
    .knex('information_schema.tables')
    .where({ table_schema: 'public' })
    .select('table_name');
  return rows
    .map((row: { table_name: string }) => row.table_name)
    .filter((name) => TABLES.includes(name));
}

describe('migrations', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await testDatabase();
  });
  afterAll(() => db.close());

  it('creates the five tables, drops them on the way down, and creates them again', async () => {
    expect(await migrateLatest(db.knex)).toEqual([
      '001_workflow_tables',
      '002_console_indexes',
      '003_execution_fillfactor',
      '004_processing_without_foreign_key',
    ]);
    expect((await existingTables(db)).sort()).toEqual([...TABLES].sort());
    await migrateDown(db.knex);
    expect(await existingTables(db)).toEqual([]);
    await migrateLatest(db.knex);
    expect((await existingTables(db)).sort()).toEqual([...TABLES].sort());
  });

  it('enforces the unique keys the design names', async () => {
    await migrateLatest(db.knex);
    const exec = {
      tenant: 'a',
      execution_id: 'x',
      workflow_name: 'w',
      workflow_version: 1,
      current_state: 's',
    };
    await db.knex('workflow_executions').insert(exec);
    await expect(db.knex('workflow_executions').insert(exec)).rejects.toThrow(/unique/);
    await db.knex('workflow_executions').insert({ ...exec, tenant: 'b' });

    const event = { tenant: 'a', execution_id: 'x', seq: 1, event_name: 'e', idempotency_key: 'k' };
    await db
      .knex('workflow_events')
      .insert({ ...event, event_id: '00000000-0000-0000-0000-000000000001' });
    await expect(
      db.knex('workflow_events').insert({
        ...event,
        idempotency_key: 'other',
        event_id: '00000000-0000-0000-0000-000000000002',
      }),
    ).rejects.toThrow(/workflow_events_tenant_execution_id_seq_unique/);
    await expect(
      db
        .knex('workflow_events')
        .insert({ ...event, seq: 2, event_id: '00000000-0000-0000-0000-000000000003' }),
    ).rejects.toThrow(/workflow_events_tenant_execution_id_idempotency_key_unique/);
  });

  it('keeps no foreign key from processing records to events (enqueue writes none)', async () => {
    await migrateLatest(db.knex);
    const record = { tenant: 'fk', event_id: '00000000-0000-0000-0000-0000000000f1' };
    await db.knex('workflow_event_processing').insert(record);
    await db.knex('workflow_event_processing').where(record).delete();
    const keys = await db.knex.raw(
      `select count(*)::int as n from pg_constraint
        where conrelid = 'workflow_event_processing'::regclass and contype = 'f'`,
    );
    expect(keys.rows[0].n).toBe(0);
  });

  it('rewrites an execution row in place (HOT) when enqueue and apply move it, on full pages too', async () => {
    await migrateLatest(db.knex);
    const rows = Array.from({ length: 500 }, (_, i) => ({
      tenant: 'hot',
      execution_id: `x-${i}`,
      workflow_name: 'w',
      workflow_version: 1,
      current_state: 's',
      data: JSON.stringify({ n: i, note: 'n'.repeat(100) }),
    }));
    await db.knex.batchInsert('workflow_executions', rows, 100);
    // This session's own counts (not yet in the shared statistics: other writers and the
    // statistics' delay do not matter), read before and after on the same connection.
    const rewrite = (statement: string) =>
      db.knex.transaction(async (trx) => {
        const counts = async () =>
          (
            await trx.raw(
              `select n_tup_upd::int as updated, n_tup_hot_upd::int as hot
                 from pg_stat_xact_user_tables where relname = 'workflow_executions'`,
            )
          ).rows[0] as { updated: number; hot: number };
        const before = await counts();
        await trx.raw(statement);
        const after = await counts();
        return { updated: after.updated - before.updated, hot: after.hot - before.hot };
      });
    // What a group commit writes, then what an applied batch writes, each its own transaction.
    expect(
      await rewrite(`update workflow_executions set next_seq = next_seq + 1 where tenant = 'hot'`),
    ).toEqual({ updated: 500, hot: 500 });
    expect(
      await rewrite(
        `update workflow_executions
            set applied_seq = applied_seq + 1, current_state = 't', status = 'completed',
                data = jsonb_set(data, '{n}', '0'), updated_at = now()
          where tenant = 'hot'`,
      ),
    ).toEqual({ updated: 500, hot: 500 });
  });
});
