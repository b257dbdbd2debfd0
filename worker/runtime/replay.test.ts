import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRuntime, type TestRuntime } from '../../test/support/runtime.js';

const HISTORY = 10_000;

/** Writes a long history straight into the tables: HISTORY applied comments and their processing rows. */
async function seedLongHistory(
  rt: TestRuntime,
  tenant: string,
  executionId: string,
  snapshotAt: number | undefined,
) {
  const knex = rt.db.knex;
  await knex.raw(
    `insert into workflow_events (tenant, event_id, execution_id, seq, event_name, payload, from_state, to_state, status, applied_at)
     select ?, gen_random_uuid(), ?, s, 'comment', '{"text":"x"}', 'new', 'new', 'applied', now()
       from generate_series(1, ?) as s`,
    [tenant, executionId, HISTORY],
  );
  await knex.raw(
    `insert into workflow_event_processing (tenant, event_id, status, attempt_count)
     select tenant, event_id, 'completed', 1 from workflow_events where tenant = ? and execution_id = ?`,
    [tenant, executionId],
  );
  const data = (comments: number) =>
    JSON.stringify({
      title: null,
      requester: null,
      assignee: null,
      commentCount: comments,
      resolvedCount: 0,
    });
  if (snapshotAt !== undefined) {
    await knex('workflow_snapshots').insert({
      tenant,
      execution_id: executionId,
      seq: snapshotAt,
      current_state: 'new',
      data: data(snapshotAt),
    });
  }
  await knex('workflow_executions')
    .where({ tenant, execution_id: executionId })
    .update({ applied_seq: HISTORY, next_seq: HISTORY + 1, data: data(HISTORY) });
}

describe('loading an execution with a long history', () => {
  let rt: TestRuntime;
  beforeAll(async () => {
    rt = await startTestRuntime({ settings: { snapshotEvery: 1000 } });
  });
  afterAll(() => rt.close());

  it('reads only the events after a recent snapshot', async () => {
    const { executionId } = await rt.service.startExecution({
      tenant: 'long',
      workflow: 'ticket-lifecycle',
    });
    await seedLongHistory(rt, 'long', executionId, HISTORY - 7);
    await rt.service.enqueueEvent({
      tenant: 'long',
      executionId,
      event: 'assign',
      payload: { assignee: 'ana' },
    });
    const result = await rt.processor.process({ tenant: 'long', executionId });
    expect(result).toMatchObject({ applied: 1, eventsReplayed: 7 });
    const execution = await rt.service.getExecution('long', executionId);
    expect(execution).toMatchObject({ state: 'in_progress', appliedSeq: HISTORY + 1 });
    expect(execution?.data).toMatchObject({ commentCount: HISTORY, assignee: 'ana' });
  });

  it('reads the whole log when there is no snapshot but the initial one', async () => {
    const { executionId } = await rt.service.startExecution({
      tenant: 'long',
      workflow: 'ticket-lifecycle',
    });
    await seedLongHistory(rt, 'long', executionId, undefined);
    await rt.service.enqueueEvent({
      tenant: 'long',
      executionId,
      event: 'comment',
      payload: { text: 'y' },
    });
    const result = await rt.processor.process({ tenant: 'long', executionId });
    expect(result).toMatchObject({ applied: 1, eventsReplayed: HISTORY });
    expect((await rt.service.getExecution('long', executionId))?.data).toMatchObject({
      commentCount: HISTORY + 1,
    });
  });

  it('writes a snapshot whenever applied_seq crosses a multiple of snapshotEvery', async () => {
    const small = await startTestRuntime({
      shareWith: rt,
      settings: { snapshotEvery: 4, applyBatchSize: 3 },
    });
    try {
      const { executionId } = await small.service.startExecution({
        tenant: 'snap',
        workflow: 'ticket-lifecycle',
      });
      for (let i = 0; i < 10; i += 1) {
        await small.service.enqueueEvent({
          tenant: 'snap',
          executionId,
          event: 'comment',
          payload: { text: `${i}` },
        });
      }
      await small.processor.process({ tenant: 'snap', executionId });
      const snapshots = await small.store.snapshots('snap', executionId);
      // Batches end at 3, 6, 9, 10: the ones crossing 4 and 8 are snapshotted.
      expect(snapshots.map((s) => s.seq)).toEqual([0, 6, 9]);
      expect(snapshots.at(-1)?.data).toMatchObject({ commentCount: 9 });
    } finally {
      await small.close();
    }
  });
});
