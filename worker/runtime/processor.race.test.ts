import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FencedError } from '../../core/errors.js';
import { startTestRuntime, type TestRuntime } from '../../test/support/runtime.js';
import { lockResource } from './processor.js';

describe('two processors on the same execution', () => {
  let a: TestRuntime;
  let b: TestRuntime;
  // Test seams: each runtime's pause inside its commit transaction, set per round.
  let atFenceA: (() => Promise<void>) | undefined;
  let atFenceB: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    a = await startTestRuntime({
      settings: { applyBatchSize: 5, beforeFence: () => atFenceA?.() ?? Promise.resolve() },
    });
    b = await startTestRuntime({
      shareWith: a,
      settings: { applyBatchSize: 5, beforeFence: () => atFenceB?.() ?? Promise.resolve() },
    });
  });
  afterAll(async () => {
    await b.close();
    await a.close();
  });

  it('apply each event once and in seq order when both reach the fence with the same events', async () => {
    const tenant = 'race';
    const { executionId } = await a.service.startExecution({
      tenant,
      workflow: 'ticket-lifecycle',
    });
    const notice = { tenant, executionId };
    const lockKey = `${a.settings.lockPrefix}${lockResource(notice)}`;
    const rounds = 10;
    const perRound = 3;
    let committed = 0;
    let fenced = 0;
    let applied = 0;
    for (let round = 0; round < rounds; round += 1) {
      for (let i = 0; i < perRound; i += 1) {
        await a.service.enqueueEvent({
          tenant,
          executionId,
          event: 'comment',
          payload: { text: `r${round}c${i}` },
        });
      }
      // A reads the events and stops inside its commit; its lock lapses there
      // (the key vanishes, as after a TTL), so B takes the lock, reads the same
      // events and reaches the commit too: both race for one applied_seq.
      let aArrived!: () => void;
      const aAtFence = new Promise<void>((resolve) => {
        aArrived = resolve;
      });
      let releaseA!: () => void;
      atFenceA = () => {
        atFenceA = undefined;
        aArrived();
        return new Promise<void>((resolve) => {
          releaseA = resolve;
        });
      };
      atFenceB = async () => {
        atFenceB = undefined;
        releaseA();
      };
      const first = a.processor.process(notice);
      await aAtFence;
      await a.redisHandle.redis.del(lockKey);
      const second = b.processor.process(notice);
      for (const outcome of await Promise.allSettled([first, second])) {
        if (outcome.status === 'fulfilled') {
          committed += 1;
          applied += outcome.value.applied;
        } else if (outcome.reason instanceof FencedError) {
          fenced += 1;
        } else {
          throw outcome.reason;
        }
      }
    }

    // Every round was a real race: both processors reached the commit with the
    // same events, and the fence let exactly one of them through.
    expect({ committed, fenced, applied }).toEqual({
      committed: rounds,
      fenced: rounds,
      applied: rounds * perRound,
    });
    const execution = await a.service.getExecution(tenant, executionId);
    expect(execution?.appliedSeq).toBe(rounds * perRound);
    expect(execution?.data).toMatchObject({ commentCount: rounds * perRound });
    const rows = await a.db
      .knex('workflow_events as e')
      .join('workflow_event_processing as p', 'p.event_id', 'e.event_id')
      .where({ 'e.tenant': tenant, 'e.execution_id': executionId })
      .orderBy('e.seq')
      .select('e.seq', 'e.status', 'e.applied_at', 'p.attempt_count');
    expect(rows.map((r) => [r.status, r.attempt_count])).toEqual(rows.map(() => ['applied', 1]));
    // Applied in seq order: applied_at never goes backwards along seq.
    for (let i = 1; i < rows.length; i += 1) {
      expect(rows[i].applied_at.getTime()).toBeGreaterThanOrEqual(rows[i - 1].applied_at.getTime());
    }
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
