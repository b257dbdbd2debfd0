import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { waitFor } from '../../local/process.js';
import {
  startTestRuntime,
  type TestRuntime,
  waitUntilSettled,
} from '../../test/support/runtime.js';
import { flakyCalls, flakyPlan, testWorkflow } from '../../test/support/workflows.js';
import { bundledWorkflows } from '../../workflow/bundled/index.js';

describe('actions', () => {
  let rt: TestRuntime;
  beforeAll(async () => {
    rt = await startTestRuntime({
      workflows: [...bundledWorkflows, testWorkflow],
      settings: { maxDeliveries: 5 },
    });
  });
  afterAll(() => rt.close());
  beforeEach(() => {
    flakyCalls.length = 0;
    flakyPlan.failuresBeforeSuccess = 0;
  });

  it('run after the transition commits with the key <eventId>:<actionName>, and replay never runs them again', async () => {
    const { executionId } = await rt.service.startExecution({
      tenant: 'act',
      workflow: 'ticket-lifecycle',
      input: { requester: 'ana@x' },
    });
    await rt.service.enqueueEvent({
      tenant: 'act',
      executionId,
      event: 'assign',
      payload: { assignee: 'bo' },
    });
    const resolved = await rt.service.enqueueEvent({
      tenant: 'act',
      executionId,
      event: 'resolve',
    });
    const first = await rt.processor.process({ tenant: 'act', executionId });
    expect(first.actionsRun).toBe(1);
    // Duplicate and late notices: the catch-up finds nothing to do and no action to run.
    for (let i = 0; i < 3; i += 1)
      expect((await rt.processor.process({ tenant: 'act', executionId })).actionsRun).toBe(0);
    const results = await rt.store.actionResults('act', executionId);
    expect(results).toEqual([
      {
        tenant: 'act',
        eventId: resolved.eventId,
        actionName: 'notifyRequester',
        status: 'succeeded',
        attempts: 1,
        result: { notified: 'ana@x', idempotencyKey: `${resolved.eventId}:notifyRequester` },
        error: undefined,
      },
    ]);
  });

  it('retry with backoff after a failure and keep the same idempotency key', async () => {
    flakyPlan.failuresBeforeSuccess = 2;
    await rt.startConsumer();
    const { executionId } = await rt.service.startExecution({
      tenant: 'act',
      workflow: 'test-flow',
    });
    const notify = await rt.service.enqueueEvent({ tenant: 'act', executionId, event: 'notify' });
    await waitFor(
      'the action to succeed',
      async () => (await rt.store.actionResults('act', executionId))[0]?.status === 'succeeded',
    );
    expect(flakyCalls).toEqual([
      `${notify.eventId}:flaky`,
      `${notify.eventId}:flaky`,
      `${notify.eventId}:flaky`,
    ]);
    const [result] = await rt.store.actionResults('act', executionId);
    expect(result).toMatchObject({ attempts: 3, error: undefined });
    await waitUntilSettled(rt);
    // The transition was applied once even though the notice was delivered three times.
    const processing = await rt.db
      .knex('workflow_event_processing')
      .where({ event_id: notify.eventId })
      .first();
    expect(processing.attempt_count).toBe(1);
  });
});
