import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRuntime, type TestRuntime } from '../../test/support/runtime.js';
import { FencedError } from '../errors.js';
import { lockResource } from './processor.js';

describe('two processors on the same execution', () => {
  let a: TestRuntime;
  let b: TestRuntime;
  beforeAll(async () => {
    a = await startTestRuntime({ settings: { applyBatchSize: 5 } });
    b = await startTestRuntime({ shareWith: a, settings: { applyBatchSize: 5 } });
  });
  afterAll(async () => {
    await b.close();
    await a.close();
  });

  it('apply each event once and in seq order when racing', async () => {
    const { executionId } = await a.service.startExecution({
      tenant: 'race',
      workflow: 'ticket-lifecycle',
    });
    const notice = { tenant: 'race', executionId };
    const comments = 60;
    const racing: Promise<unknown>[] = [];
    for (let i = 0; i < comments; i += 1) {
      await a.service.enqueueEvent({
        tenant: 'race',
        executionId,
        event: 'comment',
        payload: { text: `c${i}` },
      });
      // Both processors chase the log while it grows; contention is expected and harmless.
      racing.push(
        a.processor.process(notice).catch(() => undefined),
        b.processor.process(notice).catch(() => undefined),
      );
    }
    await Promise.all(racing);
    await a.processor.process(notice);

    const execution = await a.service.getExecution('race', executionId);
    expect(execution?.appliedSeq).toBe(comments);
    expect(execution?.data).toMatchObject({ commentCount: comments });
    const rows = await a.db
      .knex('workflow_events as e')
      .join('workflow_event_processing as p', 'p.event_id', 'e.event_id')
      .where({ 'e.tenant': 'race', 'e.execution_id': executionId })
      .orderBy('e.seq')
      .select('e.seq', 'e.status', 'e.applied_at', 'p.attempt_count', 'p.worker_id');
    expect(rows.every((r) => r.status === 'applied' && r.attempt_count === 1)).toBe(true);
    // Applied in seq order: applied_at never goes backwards along seq.
    for (let i = 1; i < rows.length; i += 1) {
      expect(rows[i].applied_at.getTime()).toBeGreaterThanOrEqual(rows[i - 1].applied_at.getTime());
    }
    expect(new Set(rows.map((r) => r.worker_id)).size).toBeGreaterThanOrEqual(1);
  });

  it('a processor whose lock expired mid-work cannot commit', async () => {
    const tenant = 'fence';
    const { executionId } = await a.service.startExecution({
      tenant,
      workflow: 'ticket-lifecycle',
    });
    await a.service.enqueueEvent({
      tenant,
      executionId,
      event: 'comment',
      payload: { text: 'one' },
    });

    let release!: () => void;
    let paused!: () => void;
    const atFence = new Promise<void>((resolve) => {
      paused = resolve;
    });
    const slow = await startTestRuntime({
      shareWith: a,
      settings: {
        // Holds the first attempt inside its transaction, after it read the state and before the fence.
        beforeFence: () => {
          paused();
          return new Promise<void>((resolve) => {
            release = resolve;
          });
        },
      },
    });
    try {
      const stale = slow.processor.process({ tenant, executionId });
      await atFence;
      // The lock expires under the slow worker (its key vanishes, as after a TTL lapse).
      await a.redisHandle.redis.del(
        `${a.settings.lockPrefix}${lockResource({ tenant, executionId })}`,
      );
      const fresh = await b.processor.process({ tenant, executionId });
      expect(fresh.applied).toBe(1);
      release();
      await expect(stale).rejects.toBeInstanceOf(FencedError);
    } finally {
      await slow.close();
    }
    const execution = await a.service.getExecution(tenant, executionId);
    expect(execution).toMatchObject({
      appliedSeq: 1,
      data: expect.objectContaining({ commentCount: 1 }),
    });
    const [processing] = await a.db.knex('workflow_event_processing').where({ tenant });
    expect(processing.attempt_count).toBe(1);
  });
});
