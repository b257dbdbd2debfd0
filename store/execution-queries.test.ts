import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateLatest } from '../migrations/index.js';
import { type TestDatabase, testDatabase } from '../test/support/isolation.js';
import { ExecutionQueries } from './execution-queries.js';

/**
 * An execution with one event whose processing record has `processing`
 * status, or none (null): enqueued and not yet worked on.
 */
async function seed(
  db: TestDatabase,
  tenant: string,
  id: string,
  processing: string | null,
  n: number,
) {
  await db.knex('workflow_executions').insert({
    tenant,
    execution_id: id,
    workflow_name: `w${n % 2}`,
    workflow_version: 1,
    current_state: `s${n % 3}`,
  });
  const eventId = `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
  await db
    .knex('workflow_events')
    .insert({ tenant, event_id: eventId, execution_id: id, seq: 1, event_name: 'e' });
  if (processing === null) return;
  await db
    .knex('workflow_event_processing')
    .insert({ tenant, event_id: eventId, status: processing });
}

describe('ExecutionQueries', () => {
  let db: TestDatabase;
  let queries: ExecutionQueries;
  beforeAll(async () => {
    db = await testDatabase();
    await migrateLatest(db.knex);
    queries = new ExecutionQueries(db.knex);
    await seed(db, 'a', 'ok', 'completed', 1);
    await seed(db, 'a', 'failing', 'failed', 2);
    await seed(db, 'a', 'dead-actions', 'dead', 3);
    await seed(db, 'a', 'waiting', null, 4);
    // The same id in another tenant, failing: it must not make a's row blocked.
    await seed(db, 'b', 'waiting', 'failed', 5);
  });
  afterAll(() => db.close());

  it('counts an execution blocked when an event of it is failing or dead, per tenant', async () => {
    const ids = async (blocked: boolean) =>
      (await queries.list('a', { blocked }, { limit: 10 })).executions
        .map((row) => row.executionId)
        .sort();
    expect(await ids(true)).toEqual(['dead-actions', 'failing']);
    expect(await ids(false)).toEqual(['ok', 'waiting']);
    const listed = (await queries.list('a', {}, { limit: 10 })).executions;
    expect(listed.find((row) => row.executionId === 'waiting')?.blocked).toBe(false);
    expect((await queries.counts('a', {}, 10)).blocked).toBe(2);
    expect((await queries.counts('b', {}, 10)).blocked).toBe(1);
  });

  it('caps the state groups and says so', async () => {
    const all = await queries.counts('a', {}, 10);
    expect(all.byState).toHaveLength(4);
    expect(all.truncated).toBe(false);
    expect(all.byStatus).toEqual([{ status: 'active', count: 4 }]);
    const capped = await queries.counts('a', {}, 2);
    expect(capped.byState).toEqual(all.byState.slice(0, 2));
    expect(capped.truncated).toBe(true);
    expect(capped.byStatus).toEqual(all.byStatus);
  });
});
