import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LockBusyError } from '../../core/errors.js';
import { startTestRuntime, type TestRuntime } from '../../test/support/runtime.js';
import { lockResource } from './processor.js';

describe('a batch of executions', () => {
  let rt: TestRuntime;
  beforeAll(async () => {
    rt = await startTestRuntime();
  });
  afterAll(() => rt.close());

  async function executionWithComment(tenant: string): Promise<string> {
    const { executionId } = await rt.service.startExecution({
      tenant,
      workflow: 'ticket-lifecycle',
    });
    await rt.service.enqueueEvent({
      tenant,
      executionId,
      event: 'comment',
      payload: { text: 'hi' },
    });
    return executionId;
  }

  it('applies the executions whose locks it took while one held elsewhere drops out alone', async () => {
    const held = { tenant: 'busy', executionId: await executionWithComment('busy') };
    const free = { tenant: 'busy', executionId: await executionWithComment('busy') };
    const elsewhere = await rt.lock.acquire([lockResource(held)]);
    // Delivered together: one batch.
    const [heldOutcome, freeOutcome] = await Promise.allSettled([
      rt.processor.process(held),
      rt.processor.process(free),
    ]);
    await elsewhere.release();
    expect(heldOutcome.status).toBe('rejected');
    expect((heldOutcome as PromiseRejectedResult).reason).toBeInstanceOf(LockBusyError);
    expect(freeOutcome).toMatchObject({ status: 'fulfilled', value: { applied: 1 } });
    expect((await rt.service.getExecution('busy', held.executionId))?.appliedSeq).toBe(0);
    expect((await rt.service.getExecution('busy', free.executionId))?.appliedSeq).toBe(1);

    // Once the other holder lets go, the retried notice applies it.
    expect(await rt.processor.process(held)).toMatchObject({ applied: 1 });
    expect(await rt.service.getExecution('busy', held.executionId)).toMatchObject({
      appliedSeq: 1,
      data: expect.objectContaining({ commentCount: 1 }),
    });
  });

  it('leaves no lock behind once its executions are done', async () => {
    const notices = await Promise.all(
      ['l1', 'l2', 'l3'].map(async () => ({
        tenant: 'locks',
        executionId: await executionWithComment('locks'),
      })),
    );
    await Promise.all(notices.map((notice) => rt.processor.process(notice)));
    const keys = notices.map((notice) => `${rt.settings.lockPrefix}${lockResource(notice)}`);
    expect(await rt.redisHandle.redis.exists(...keys)).toBe(0);
  });
});
