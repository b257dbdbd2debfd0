import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyExecution } from '../../engine/verify.js';
import {
  startTestRuntime,
  type TestRuntime,
  waitUntilSettled,
} from '../../test/support/runtime.js';
import { lockResource } from './processor.js';

describe('tenant isolation', () => {
  let rt: TestRuntime;
  beforeAll(async () => {
    rt = await startTestRuntime();
    await rt.startConsumer();
  });
  afterAll(() => rt.close());

  it('no runtime call with tenant B reads or changes tenant A’s execution', async () => {
    const a = await rt.service.startExecution({
      tenant: 'A',
      workflow: 'ticket-lifecycle',
      executionId: 'T-42',
    });
    const first = await rt.service.enqueueEvent({
      tenant: 'A',
      executionId: 'T-42',
      event: 'assign',
      payload: { assignee: 'ana' },
    });
    await waitUntilSettled(rt);
    const before = await rt.service.getExecution('A', 'T-42');

    expect(await rt.service.getExecution('B', 'T-42')).toBeUndefined();
    expect(await rt.service.history('B', 'T-42')).toEqual([]);
    expect(await rt.store.getEvent('B', first.eventId)).toBeUndefined();
    expect(await rt.store.snapshots('B', 'T-42')).toEqual([]);
    expect(await rt.store.actionResults('B', 'T-42')).toEqual([]);
    await expect(
      rt.service.enqueueEvent({ tenant: 'B', executionId: 'T-42', event: 'resolve' }),
    ).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    await expect(rt.deadLetters.retry('B', first.eventId)).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    await expect(verifyExecution(rt.store, rt.registry, 'B', 'T-42')).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    // A notice forged with B's tenant and A's execution id finds nothing of A's.
    await expect(rt.processor.process({ tenant: 'B', executionId: 'T-42' })).rejects.toMatchObject({
      code: 'POISON_NOTICE',
    });

    // B may use the same execution id: it gets its own execution.
    const b = await rt.service.startExecution({
      tenant: 'B',
      workflow: 'ticket-lifecycle',
      executionId: 'T-42',
    });
    await rt.service.enqueueEvent({
      tenant: 'B',
      executionId: 'T-42',
      event: 'comment',
      payload: { text: 'b' },
    });
    await waitUntilSettled(rt);
    expect(b.tenant).toBe('B');
    expect(await rt.service.getExecution('A', 'T-42')).toEqual({
      ...before,
      updatedAt: expect.any(Date),
    });
    expect((await rt.service.getExecution('A', 'T-42'))?.updatedAt).toEqual(before?.updatedAt);
    expect((await rt.service.history('A', 'T-42')).map((e) => e.name)).toEqual(['assign']);
    expect((await rt.service.getExecution('B', 'T-42'))?.data).toMatchObject({
      commentCount: 1,
      assignee: null,
    });
    expect(a.executionId).toBe(b.executionId);
  });
  it('an execution exists only for its own tenant', async () => {
    await rt.service.startExecution({
      tenant: 'A',
      workflow: 'ticket-lifecycle',
      executionId: 'T-77',
    });
    expect(await rt.service.executionExists('A', 'T-77')).toBe(true);
    expect(await rt.service.executionExists('B', 'T-77')).toBe(false);
    expect(await rt.service.executionExists('A', 'T-78')).toBe(false);
  });
});

describe('execution locks', () => {
  let rt: TestRuntime;
  beforeAll(async () => {
    rt = await startTestRuntime();
  });
  afterAll(() => rt.close());

  it('of two tenants whose names and ids join to the same text are different locks', async () => {
    // "a" + "b:c" and "a:b" + "c" both read a:b:c when joined with ":".
    const other = { tenant: 'a', executionId: 'b:c' };
    const mine = { tenant: 'a:b', executionId: 'c' };
    await rt.service.startExecution({ ...mine, workflow: 'ticket-lifecycle' });
    await rt.service.enqueueEvent({ ...mine, event: 'assign', payload: { assignee: 'ana' } });
    const elsewhere = await rt.lock.acquire([lockResource(other)]);
    expect(elsewhere.busy).toEqual([]);
    const result = await rt.processor.process(mine).finally(() => elsewhere.release());
    expect(result.applied).toBe(1);
  });
});

describe('event ids that are not UUIDs', () => {
  let rt: TestRuntime;
  beforeAll(async () => {
    rt = await startTestRuntime();
  });
  afterAll(() => rt.close());

  it('name no event instead of failing in the database', async () => {
    expect(await rt.store.getEvent('A', 'not-a-uuid')).toBeUndefined();
    await expect(
      rt.deadLetters.retry('A', "x'; drop table workflow_events; --"),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});
