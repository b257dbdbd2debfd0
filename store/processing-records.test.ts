import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateLatest } from '../migrations/index.js';
import { type TestDatabase, testDatabase } from '../test/support/isolation.js';
import type { AppliedBatch } from './event-store.js';
import { ExecutionQueries } from './execution-queries.js';
import { PostgresEventStore } from './postgres-event-store.js';

/**
 * Processing records are written by workers, not by enqueue: an event
 * without one is pending, and the first decision, failure or burial
 * creates it.
 */
describe('processing records', () => {
  let db: TestDatabase;
  let store: PostgresEventStore;
  let queries: ExecutionQueries;
  beforeAll(async () => {
    db = await testDatabase();
    await migrateLatest(db.knex);
    store = new PostgresEventStore(db.knex);
    queries = new ExecutionQueries(db.knex);
  });
  afterAll(() => db.close());

  let counter = 0;
  /** A fresh execution with `n` enqueued events, through the single and the group append. */
  async function enqueued(tenant: string, n = 1) {
    counter += 1;
    const executionId = `x-${counter}`;
    await store.createExecution({
      tenant,
      executionId,
      workflowName: 'w',
      workflowVersion: 1,
      state: 'open',
      data: {},
    });
    const events = Array.from({ length: n }, () => ({
      tenant,
      executionId,
      eventId: randomUUID(),
      name: 'comment',
      payload: {},
    }));
    await store.appendEvent(events[0]!);
    const rest = await store.appendEvents(events.slice(1));
    expect(rest.every((r) => !('error' in r))).toBe(true);
    return { executionId, eventIds: events.map((e) => e.eventId) };
  }

  function record(eventId: string) {
    return db.knex('workflow_event_processing').where({ event_id: eventId }).first();
  }

  /** Applies the execution's next event (seq expectedSeq + 1) as a worker's commit does. */
  function applied(tenant: string, executionId: string, eventId: string, expectedSeq: number) {
    const batch: AppliedBatch = {
      tenant,
      executionId,
      expectedSeq,
      outcomes: [
        {
          eventId,
          seq: expectedSeq + 1,
          kind: 'applied',
          fromState: 'open',
          toState: 'open',
          actions: [],
        },
      ],
      state: 'open',
      data: {},
      status: 'active',
      snapshot: undefined,
      workerId: 'w-1',
    };
    return store.commitBatch(batch);
  }

  it('writes none on enqueue, and such an event reads as pending wherever it is shown', async () => {
    const { executionId, eventIds } = await enqueued('pending', 3);
    const records = await db.knex('workflow_event_processing').whereIn('event_id', eventIds);
    expect(records).toEqual([]);

    const history = await store.history('pending', executionId);
    expect(history.map((e) => e.status)).toEqual(['pending', 'pending', 'pending']);
    expect(await store.getEvent('pending', eventIds[0]!)).toMatchObject({
      status: 'pending',
      error: null,
    });
    expect(await store.listDead('pending', 10)).toEqual([]);
    const listed = (await queries.list('pending', {}, { limit: 10 })).executions;
    expect(listed.map((x) => [x.executionId, x.blocked])).toEqual([[executionId, false]]);
    expect((await queries.counts('pending', {}, 10)).blocked).toBe(0);
  });

  it('creates the record at the first failure with one attempt, and a later success completes it', async () => {
    const { executionId, eventIds } = await enqueued('fail');
    const [eventId] = eventIds as [string];
    await store.recordFailure('fail', eventId, 'w-1', 'boom');
    expect(await record(eventId)).toMatchObject({
      tenant: 'fail',
      status: 'failed',
      attempt_count: 1,
      error_message: 'boom',
    });
    expect((await queries.counts('fail', {}, 10)).blocked).toBe(1);
    await store.recordFailure('fail', eventId, 'w-1', 'boom again');
    expect(await record(eventId)).toMatchObject({ status: 'failed', attempt_count: 2 });

    await applied('fail', executionId, eventId, 0);
    expect(await record(eventId)).toMatchObject({
      status: 'completed',
      attempt_count: 3,
      error_message: null,
      worker_id: 'w-1',
    });
    // An attempt that outlived the commit does not downgrade it.
    await store.recordFailure('fail', eventId, 'w-2', 'late');
    expect(await record(eventId)).toMatchObject({ status: 'completed', attempt_count: 3 });
    expect((await queries.counts('fail', {}, 10)).blocked).toBe(0);
  });

  it('creates a completed record with one attempt when an event is decided first time', async () => {
    const { executionId, eventIds } = await enqueued('decide', 2);
    await applied('decide', executionId, eventIds[0]!, 0);
    expect(await record(eventIds[0]!)).toMatchObject({ status: 'completed', attempt_count: 1 });
    expect(await record(eventIds[1]!)).toBeUndefined();
  });

  it('makes no record for an event id the tenant does not have', async () => {
    const { eventIds } = await enqueued('owner');
    await store.recordFailure('intruder', eventIds[0]!, 'w-1', 'boom');
    await store.recordFailure('intruder', randomUUID(), 'w-1', 'boom');
    expect(await record(eventIds[0]!)).toBeUndefined();
    expect(await db.knex('workflow_event_processing').where({ tenant: 'intruder' })).toEqual([]);
  });

  it('buries an event that has no record, lists it dead, and retries it back to pending', async () => {
    const { executionId, eventIds } = await enqueued('bury');
    const [eventId] = eventIds as [string];
    const marking = await store.markDead({ tenant: 'bury', executionId, eventId }, 'buried', {
      kind: 'event',
      eventId,
    });
    expect(marking.deadEventIds).toEqual([eventId]);
    expect(await record(eventId)).toMatchObject({ status: 'dead', error_message: 'buried' });
    expect((await store.listDead('bury', 10)).map((e) => [e.eventId, e.error])).toEqual([
      [eventId, 'buried'],
    ]);
    expect((await queries.counts('bury', {}, 10)).blocked).toBe(1);

    await store.reviveDead('bury', eventId);
    expect(await store.getEvent('bury', eventId)).toMatchObject({ status: 'pending', error: null });
    expect(await record(eventId)).toMatchObject({ status: 'pending', attempt_count: 0 });
    expect(await store.listDead('bury', 10)).toEqual([]);
    expect((await queries.counts('bury', {}, 10)).blocked).toBe(0);

    await applied('bury', executionId, eventId, 0);
    expect(await record(eventId)).toMatchObject({ status: 'completed', attempt_count: 1 });
  });
});
