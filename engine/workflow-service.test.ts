import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BadInputError, ConflictError, NotFoundError } from '../core/errors.js';
import { startTestRuntime, type TestRuntime, waitUntilSettled } from '../test/support/runtime.js';

describe('starting executions and enqueueing events', () => {
  let rt: TestRuntime;
  beforeAll(async () => {
    rt = await startTestRuntime();
    await rt.startConsumer();
  });
  afterAll(() => rt.close());

  it('applies events in order and derives the ticket state', async () => {
    const started = await rt.service.startExecution({
      tenant: 'acme',
      workflow: 'ticket-lifecycle',
      input: { requester: 'ana@example.com' },
    });
    expect(started.state).toBe('new');
    const id = started.executionId;
    const send = (event: string, payload?: unknown) =>
      rt.service.enqueueEvent({ tenant: 'acme', executionId: id, event, payload });
    const first = await send('assign', { assignee: 'bo' });
    await send('comment', { text: 'looking' });
    await send('resolve');
    const last = await send('comment', { text: 'done' });
    expect([first.seq, last.seq]).toEqual([1, 4]);
    await waitUntilSettled(rt);
    const execution = await rt.service.getExecution('acme', id);
    expect(execution).toMatchObject({ state: 'resolved', appliedSeq: 4, status: 'active' });
    expect(execution?.data).toMatchObject({
      assignee: 'bo',
      commentCount: 2,
      requester: 'ana@example.com',
    });
    const history = await rt.service.history('acme', id);
    expect(history.map((e) => [e.seq, e.name, e.fromState, e.toState, e.status])).toEqual([
      [1, 'assign', 'new', 'in_progress', 'applied'],
      [2, 'comment', 'in_progress', 'in_progress', 'applied'],
      [3, 'resolve', 'in_progress', 'resolved', 'applied'],
      [4, 'comment', 'resolved', 'resolved', 'applied'],
    ]);
  });

  it('records an event not allowed in the current state as rejected with its reason', async () => {
    const { executionId } = await rt.service.startExecution({
      tenant: 'acme',
      workflow: 'ticket-lifecycle',
    });
    const close = await rt.service.enqueueEvent({ tenant: 'acme', executionId, event: 'close' });
    await waitUntilSettled(rt);
    const event = await rt.store.getEvent('acme', close.eventId);
    expect(event).toMatchObject({
      status: 'rejected',
      reason: 'event close is not allowed in state new',
    });
    expect((await rt.service.getExecution('acme', executionId))?.state).toBe('new');
  });

  it('returns the first eventId for a repeated idempotency key and refuses it with another payload', async () => {
    const { executionId } = await rt.service.startExecution({
      tenant: 'acme',
      workflow: 'ticket-lifecycle',
    });
    const request = {
      tenant: 'acme',
      executionId,
      event: 'comment',
      payload: { text: 'hi' },
      idempotencyKey: 'k1',
    };
    const first = await rt.service.enqueueEvent(request);
    const again = await rt.service.enqueueEvent(request);
    expect(again).toEqual({ eventId: first.eventId, seq: first.seq, duplicate: true });
    await expect(
      rt.service.enqueueEvent({ ...request, payload: { text: 'other' } }),
    ).rejects.toMatchObject({
      code: 'IDEMPOTENCY_CONFLICT',
    });
    await waitUntilSettled(rt);
    expect((await rt.service.getExecution('acme', executionId))?.data).toMatchObject({
      commentCount: 1,
    });
  });

  it('refuses bad input with an error naming the field, and writes nothing', async () => {
    const { executionId } = await rt.service.startExecution({
      tenant: 'acme',
      workflow: 'ticket-lifecycle',
    });
    const bad = [
      { event: 'assign', payload: { assignee: 42 } },
      { event: 'assign', payload: {} },
      { event: 'explode', payload: {} },
      { event: 'comment', payload: { text: 'x', extra: true } },
    ];
    for (const request of bad) {
      const error = await rt.service
        .enqueueEvent({ tenant: 'acme', executionId, ...request })
        .catch((e) => e);
      expect(error).toBeInstanceOf(BadInputError);
    }
    await expect(
      rt.service.startExecution({ tenant: 'acme', workflow: 'nope' }),
    ).rejects.toMatchObject({ code: 'UNKNOWN_WORKFLOW' });
    await expect(
      rt.service.startExecution({
        tenant: 'acme',
        workflow: 'ticket-lifecycle',
        executionId: 'bad id!',
      }),
    ).rejects.toMatchObject({
      field: 'executionId',
    });
    // A tenant a stream notice could not carry (over 200 characters, or a NUL).
    for (const tenant of ['t'.repeat(201), 'a\u0000b', '']) {
      await expect(
        rt.service.startExecution({ tenant, workflow: 'ticket-lifecycle' }),
      ).rejects.toMatchObject({ field: 'tenant' });
      await expect(
        rt.service.enqueueEvent({ tenant, executionId, event: 'resolve' }),
      ).rejects.toMatchObject({ field: 'tenant' });
    }
    expect(await rt.service.history('acme', executionId)).toEqual([]);
  });

  it('refuses a taken execution id and an unknown execution', async () => {
    await rt.service.startExecution({
      tenant: 'acme',
      workflow: 'ticket-lifecycle',
      executionId: 'T-1',
    });
    await expect(
      rt.service.startExecution({
        tenant: 'acme',
        workflow: 'ticket-lifecycle',
        executionId: 'T-1',
      }),
    ).rejects.toBeInstanceOf(ConflictError);
    await expect(
      rt.service.enqueueEvent({ tenant: 'acme', executionId: 'missing', event: 'resolve' }),
    ).rejects.toBeInstanceOf(NotFoundError);
  });
});
