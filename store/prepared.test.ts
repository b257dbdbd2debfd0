import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateLatest } from '../migrations/index.js';
import { type TestDatabase, testDatabase } from '../test/support/isolation.js';
import { prepared, runPrepared, unnestParams } from './prepared.js';
import { EXECUTIONS } from './tables.js';

/**
 * Named statements are worth having only if PostgreSQL stops planning them:
 * pg_prepared_statements counts, per connection, the plans it made for each.
 */
describe('prepared statements', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await testDatabase();
    await migrateLatest(db.knex);
  });
  afterAll(() => db.close());

  it('numbers the placeholders in order', () => {
    expect(prepared('n', 'select ?::int + ?::int, ?::text').text).toBe(
      'select $1::int + $2::int, $3::text',
    );
  });

  /** Runs `statement` `times` times on one connection; returns its plan counts there. */
  async function planCounts(name: string, unnest: string, times: number) {
    const statement = prepared(
      name,
      `select x.execution_id from ${unnest} as k(tenant, execution_id)
         join ${EXECUTIONS} x on x.tenant = k.tenant and x.execution_id = k.execution_id`,
    );
    return db.knex.transaction(async (trx) => {
      for (let i = 0; i < times; i += 1)
        await runPrepared(trx, statement, [['t'], [`missing-${i}`]]);
      const { rows } = await trx.raw(
        'select generic_plans, custom_plans from pg_prepared_statements where name = ?',
        [name],
      );
      return rows[0] as { generic_plans: string; custom_plans: string };
    });
  }

  it('a named statement over unnestParams settles on its generic plan', async () => {
    const counts = await planCounts('wrapped_unnest', unnestParams('text', 'text'), 12);
    // PostgreSQL makes five custom plans before it weighs the generic one.
    expect(Number(counts.custom_plans)).toBe(5);
    expect(Number(counts.generic_plans)).toBe(7);
  });

  it('runs inside a transaction on the transaction’s connection', async () => {
    const statement = prepared('in_trx', `select count(*)::int as n from ${EXECUTIONS}`);
    const trx = await db.knex.transaction();
    try {
      await trx(EXECUTIONS).insert({
        tenant: 't',
        execution_id: 'only-in-this-transaction',
        workflow_name: 'w',
        workflow_version: 1,
        current_state: 'open',
      });
      expect((await runPrepared(trx, statement, [])).rows).toEqual([{ n: 1 }]);
    } finally {
      await trx.rollback();
    }
    expect((await runPrepared(db.knex, statement, [])).rows).toEqual([{ n: 0 }]);
  });
});
