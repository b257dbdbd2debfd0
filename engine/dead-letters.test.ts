import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Clock, systemClock } from '../core/clock.js';
import { waitFor } from '../local/process.js';
import { startTestRuntime, type TestRuntime, waitUntilSettled } from '../test/support/runtime.js';
import { flakyCalls, flakyPlan, testWorkflow } from '../test/support/workflows.js';
import { bundledWorkflows } from '../workflow/bundled/index.js';

const MAX_DELIVERIES = 3;

describe('poison notices', () => {
  let rt: TestRuntime;
  beforeAll(async () => {
    rt = await startTestRuntime({
      workflows: [...bundledWorkflows, testWorkflow],
      settings: { maxDeliveries: MAX_DELIVERIES, retryBaseMs: 10, retryMaxMs: 50 },
    });
    await rt.startConsumer();
  });
  afterAll(() => rt.close());
  beforeEach(() => {
    flakyCalls.length = 0;
    flakyPlan.failuresBeforeSuccess = 0;
    flakyPlan.onCall = undefined;
  });

  async function deadLetterCount(): Promise<number> {
    return rt.redisHandle.redis.xlen(`${rt.settings.stream}:dlq`);
  }

  it('end in the dead-letter stream while other work continues', async () => {
    flakyPlan.failuresBeforeSuccess = 1_000;
    const healthy = await rt.service.startExecution({ tenant: 'p', workflow: 'ticket-lifecycle' });
    const broken = await rt.service.startExecution({ tenant: 'p', workflow: 'test-flow' });
    const failing = await rt.service.startExecution({ tenant: 'p', workflow: 'test-flow' });

    // Garbage fields, and an execution nobody created.
    await rt.redisHandle.redis.xadd(rt.settings.stream, '*', 'hello', 'world');
    await rt.transport.publish([{ tenant: 'p', executionId: 'never-created' }]);
    // Workflow code that throws, and an action that keeps failing.
    const exploded = await rt.service.enqueueEvent({
      tenant: 'p',
      executionId: broken.executionId,
      event: 'explode',
    });
    const notified = await rt.service.enqueueEvent({
      tenant: 'p',
      executionId: failing.executionId,
      event: 'notify',
    });
    for (let i = 0; i < 20; i += 1) {
      await rt.service.enqueueEvent({
        tenant: 'p',
        executionId: healthy.executionId,
        event: 'comment',
        payload: { text: `${i}` },
      });
    }

    await waitFor('four dead letters', async () => (await deadLetterCount()) === 4);
    // The healthy execution is not held up by them: all its events apply.
    await waitFor('the healthy execution caught up', async () => {
      const now = await rt.service.getExecution('p', healthy.executionId);
      return (now?.data as { commentCount?: number } | undefined)?.commentCount === 20;
    });
    const healthyNow = await rt.service.getExecution('p', healthy.executionId);
    expect(healthyNow?.data).toMatchObject({ commentCount: 20 });

    const letters = await rt.deadLetters.listStream(10);
    const errors = letters.map((l) => l.error).join('\n');
    expect(errors).toContain('malformed notice');
    expect(errors).toContain('unknown execution never-created');
    expect(errors).toContain('update blew up');
    expect(errors).toContain('downstream said no');
    // Retried up to the limit, then dead-lettered: the action ran exactly MAX_DELIVERIES times.
    expect(flakyCalls.filter((key) => key === `${notified.eventId}:flaky`)).toHaveLength(
      MAX_DELIVERIES,
    );
    const codeFailure = letters.find((l) => l.error.includes('update blew up'));
    expect(codeFailure?.deliveries).toBe(MAX_DELIVERIES);

    expect(await rt.store.getEvent('p', exploded.eventId)).toMatchObject({ status: 'dead' });
    expect((await rt.service.getExecution('p', broken.executionId))?.status).toBe('blocked');
    const actions = await rt.store.actionResults('p', failing.executionId);
    expect(actions[0]).toMatchObject({
      actionName: 'flaky',
      status: 'failed',
      attempts: MAX_DELIVERIES,
    });
    // The failed action fed its onFailure event back into the workflow.
    await waitFor('the failure event to be applied', async () => {
      const execution = await rt.service.getExecution('p', failing.executionId);
      return (execution?.data as { failures: number } | undefined)?.failures === 1;
    });
    const dead = await rt.deadLetters.list('p');
    expect(dead.map((e) => e.eventId).sort()).toEqual([exploded.eventId, notified.eventId].sort());
    await waitFor('no pending stream entries', async () => {
      const [count] = (await rt.redisHandle.redis.xpending(
        rt.settings.stream,
        rt.settings.group,
      )) as [number];
      return count === 0;
    });
  });

  it('can be retried: a dead event goes back to pending and is applied once the cause is gone', async () => {
    flakyPlan.failuresBeforeSuccess = 1_000;
    const execution = await rt.service.startExecution({ tenant: 'r', workflow: 'test-flow' });
    const notified = await rt.service.enqueueEvent({
      tenant: 'r',
      executionId: execution.executionId,
      event: 'notify',
    });
    await rt.service.enqueueEvent({
      tenant: 'r',
      executionId: execution.executionId,
      event: 'step',
    });
    await waitFor('the action to be recorded failed', async () => {
      const [action] = await rt.store.actionResults('r', execution.executionId);
      return action?.status === 'failed';
    });
    flakyPlan.failuresBeforeSuccess = 0;
    await rt.deadLetters.retry('r', notified.eventId);
    await waitFor('the retried action to succeed', async () => {
      const [action] = await rt.store.actionResults('r', execution.executionId);
      return action?.status === 'succeeded';
    });
    expect(await rt.deadLetters.list('r')).toEqual([]);
    const letters = await rt.deadLetters.listStream(100);
    expect(letters.some((l) => l.fields.execution === execution.executionId)).toBe(false);
  });

  it('feeds an action failure back again when a retried action fails again', async () => {
    flakyPlan.failuresBeforeSuccess = 1_000;
    const { executionId } = await rt.service.startExecution({ tenant: 'f', workflow: 'test-flow' });
    const notified = await rt.service.enqueueEvent({ tenant: 'f', executionId, event: 'notify' });
    const failures = async () =>
      ((await rt.service.getExecution('f', executionId))?.data as { failures?: number } | undefined)
        ?.failures;
    await waitFor('the first failure fed back', async () => (await failures()) === 1);
    await rt.deadLetters.retry('f', notified.eventId);
    await waitFor('the second failure fed back', async () => (await failures()) === 2);
    const [action] = await rt.store.actionResults('f', executionId);
    expect(action).toMatchObject({ status: 'failed', attempts: MAX_DELIVERIES });
  });

  it('a dead event blocks later events of its execution until it is retried, keeping seq order', async () => {
    const execution = await rt.service.startExecution({ tenant: 'b', workflow: 'test-flow' });
    const id = execution.executionId;
    const exploded = await rt.service.enqueueEvent({
      tenant: 'b',
      executionId: id,
      event: 'explode',
    });
    await waitFor(
      'the execution to be blocked',
      async () => (await rt.service.getExecution('b', id))?.status === 'blocked',
    );
    await rt.service.enqueueEvent({ tenant: 'b', executionId: id, event: 'step' });
    expect((await rt.service.getExecution('b', id))?.appliedSeq).toBe(0);
    await expect(
      rt.deadLetters.retry('b', '00000000-0000-4000-8000-000000000000'),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await rt.deadLetters.retry('b', exploded.eventId);
    // Still broken code: it goes dead again, and the later event still waits its turn.
    await waitFor(
      'dead again',
      async () => (await rt.store.getEvent('b', exploded.eventId))?.status === 'dead',
    );
    expect((await rt.service.getExecution('b', id))?.appliedSeq).toBe(0);
    await rt.db
      .knex('workflow_events')
      .where({ event_id: exploded.eventId })
      .update({ event_name: 'step' });
    await rt.deadLetters.retry('b', exploded.eventId);
    await waitUntilSettled(rt);
    expect(await rt.service.getExecution('b', id)).toMatchObject({
      appliedSeq: 2,
      status: 'active',
      data: { steps: 2, failures: 0 },
    });
  });

  it('blames a failing action, not an event enqueued while it ran', async () => {
    flakyPlan.failuresBeforeSuccess = 1_000;
    const execution = await rt.service.startExecution({ tenant: 'a', workflow: 'test-flow' });
    const id = execution.executionId;
    let late: { eventId: string } | undefined;
    // On its last attempt the action sees a user enqueue an event; that
    // event now waits right after applied_seq when the notice is buried.
    flakyPlan.onCall = async (call) => {
      if (call === MAX_DELIVERIES)
        late = await rt.service.enqueueEvent({ tenant: 'a', executionId: id, event: 'step' });
    };
    const notified = await rt.service.enqueueEvent({
      tenant: 'a',
      executionId: id,
      event: 'notify',
    });
    await waitFor('the late event to be applied', async () =>
      late === undefined
        ? false
        : (await rt.store.getEvent('a', late.eventId))?.status === 'applied',
    );
    const actions = await rt.store.actionResults('a', id);
    expect(actions.find((a) => a.actionName === 'flaky')).toMatchObject({ status: 'failed' });
    expect(await rt.store.getEvent('a', notified.eventId)).toMatchObject({ status: 'applied' });
    expect((await rt.service.getExecution('a', id))?.status).toBe('active');
    expect((await rt.deadLetters.list('a')).map((e) => e.eventId)).toEqual([notified.eventId]);
  });
});

/** A runtime of the describe block's own, whose consumer a test starts once it has set things up. */
function runtimeStartedLater(): () => TestRuntime {
  let rt: TestRuntime | undefined;
  beforeAll(async () => {
    rt = await startTestRuntime({
      workflows: [testWorkflow],
      settings: { maxDeliveries: MAX_DELIVERIES, retryBaseMs: 10, retryMaxMs: 50 },
    });
  });
  afterAll(() => rt?.close());
  return () => {
    if (!rt) throw new Error('the runtime is not started yet');
    return rt;
  };
}

describe("a worker without the execution's workflow version", () => {
  const runtime = runtimeStartedLater();

  it('leaves the event be, however often it is delivered', async () => {
    const rt = runtime();
    const execution = await rt.service.startExecution({ tenant: 'v', workflow: 'test-flow' });
    const id = execution.executionId;
    const step = await rt.service.enqueueEvent({ tenant: 'v', executionId: id, event: 'step' });
    const setVersion = (version: number) =>
      rt.db.knex('workflow_executions').where({ tenant: 'v', execution_id: id }).update({
        workflow_version: version,
      });
    // As if the execution started on a version this (older) worker lacks.
    await setVersion(2);
    // Each retry is sent again as a new entry (the old one deleted): count them.
    const entriesAdded = async () => {
      const info = (await rt.redisHandle.redis.xinfo('STREAM', rt.settings.stream)) as unknown[];
      return Number(info[info.indexOf('entries-added') + 1]);
    };
    const before = await entriesAdded();
    await rt.startConsumer();
    await waitFor(
      'more deliveries than the limit',
      async () => (await entriesAdded()) > before + MAX_DELIVERIES + 2,
    );
    expect(await rt.store.getEvent('v', step.eventId)).toMatchObject({ status: 'pending' });
    await setVersion(1);
    await waitFor(
      'the event applied by a worker that knows the version',
      async () => (await rt.store.getEvent('v', step.eventId))?.status === 'applied',
    );
    expect(await rt.deadLetters.list('v')).toEqual([]);
    expect(await rt.redisHandle.redis.xlen(`${rt.settings.stream}:dlq`)).toBe(0);
  });
});

describe('workflow code that throws in the middle of a batch', () => {
  const runtime = runtimeStartedLater();

  it('commits the events before it and buries only the one that threw', async () => {
    const rt = runtime();
    const execution = await rt.service.startExecution({ tenant: 'm', workflow: 'test-flow' });
    const id = execution.executionId;
    const names = ['step', 'step', 'explode', 'step'];
    const events = [];
    // All waiting before any worker runs, so one catch-up takes them together.
    for (const event of names)
      events.push(await rt.service.enqueueEvent({ tenant: 'm', executionId: id, event }));
    await rt.startConsumer();
    await waitFor(
      'the execution to be blocked',
      async () => (await rt.service.getExecution('m', id))?.status === 'blocked',
    );
    const statuses = await Promise.all(
      events.map(async (e) => (await rt.store.getEvent('m', e.eventId))?.status),
    );
    expect(statuses).toEqual(['applied', 'applied', 'dead', 'pending']);
    expect(await rt.service.getExecution('m', id)).toMatchObject({
      appliedSeq: 2,
      data: { steps: 2 },
    });
  });
});

describe('the dead-letter stream', () => {
  let rt: TestRuntime;
  beforeAll(async () => {
    rt = await startTestRuntime({
      workflows: [...bundledWorkflows, testWorkflow],
      settings: { maxDeliveries: 1, retryBaseMs: 10, retryMaxMs: 50, deadLetterMaxLength: 200 },
    });
  });
  afterAll(() => rt.close());
  beforeEach(() => {
    flakyCalls.length = 0;
    flakyPlan.failuresBeforeSuccess = 0;
    flakyPlan.onCall = undefined;
  });

  const dlq = () => `${rt.settings.stream}:dlq`;

  /** Buries `count` notices of executions nobody created, as a worker would. */
  async function buryUnknown(count: number, tenant: string) {
    await rt.transport.ensureGroup();
    await rt.transport.publish(
      Array.from({ length: count }, (_, i) => ({ tenant, executionId: `gone-${i}` })),
    );
    const deliveries = await rt.transport.readNew('burier', count, 100);
    for (const delivery of deliveries) await rt.handler.handle(delivery);
  }

  it('keeps about as many entries as configured, dropping the oldest', async () => {
    await buryUnknown(1_000, 'trim');
    const length = await rt.redisHandle.redis.xlen(dlq());
    // Approximate trimming removes whole stream nodes (100 entries each by default).
    expect(length).toBeGreaterThanOrEqual(200);
    expect(length).toBeLessThan(400);
    const [newest] = await rt.deadLetters.listStream(1);
    expect(newest?.fields.execution).toBe('gone-999');
    // The index that finds an execution's letters forgets the trimmed ones too.
    expect(await rt.redisHandle.redis.hlen(`${dlq()}:index`)).toBeLessThanOrEqual(length);
  });

  it('retry finds an old entry by its execution, however many letters came after it', async () => {
    flakyPlan.failuresBeforeSuccess = 1;
    const { executionId } = await rt.service.startExecution({
      tenant: 'old',
      workflow: 'test-flow',
    });
    const notified = await rt.service.enqueueEvent({ tenant: 'old', executionId, event: 'notify' });
    const started = await rt.startConsumer();
    await waitFor('the notice to be dead-lettered', async () => {
      const letters = await rt.deadLetters.listStream(10);
      return letters.some((l) => l.fields.execution === executionId);
    });
    await started.consumer.drain(5_000);
    // Ten thousand newer letters, written past the worker (as an older release left them).
    const pipeline = rt.redisHandle.redis.pipeline();
    for (let i = 0; i < 10_050; i += 1)
      pipeline.xadd(dlq(), '*', 'tenant', 'other', 'execution', `x-${i}`, '_error', 'INTERNAL: x');
    await pipeline.exec();

    await rt.deadLetters.retry('old', notified.eventId);
    const all = (await rt.redisHandle.redis.xrange(dlq(), '-', '+')) as Array<[string, string[]]>;
    expect(all.some(([, fields]) => fields.includes(executionId))).toBe(false);
  });
});

describe('a retry requeued by a worker whose clock is an hour ahead', () => {
  const HOUR = 3_600_000;
  const ahead: Clock = { ...systemClock, now: () => Date.now() + HOUR };
  const behind: Clock = { ...systemClock, now: () => Date.now() - HOUR };
  let skewed: TestRuntime;
  let other: TestRuntime;
  beforeAll(async () => {
    skewed = await startTestRuntime({
      workflows: [testWorkflow],
      settings: { clock: ahead, retryBaseMs: 100, retryMaxMs: 100 },
    });
    // The worker that reads the retry is an hour behind.
    other = await startTestRuntime({
      workflows: [testWorkflow],
      shareWith: skewed,
      settings: { clock: behind },
    });
  });
  afterAll(async () => {
    await other.close();
    await skewed.close();
  });
  beforeEach(() => {
    flakyCalls.length = 0;
    flakyPlan.failuresBeforeSuccess = 0;
    flakyPlan.onCall = undefined;
  });

  it('is run by a worker whose clock is an hour behind after its delay, not hours later', async () => {
    flakyPlan.failuresBeforeSuccess = 1;
    const { executionId } = await skewed.service.startExecution({
      tenant: 'clock',
      workflow: 'test-flow',
    });
    await skewed.service.enqueueEvent({ tenant: 'clock', executionId, event: 'notify' });
    await skewed.transport.ensureGroup();
    const [delivery] = await skewed.transport.readNew('skewed', 1, 100);
    expect(await skewed.handler.handle(delivery!)).toMatchObject({ kind: 'retry' });

    await other.startConsumer();
    await waitFor(
      'the retried action to succeed at the other worker',
      async () =>
        (await other.store.actionResults('clock', executionId))[0]?.status === 'succeeded',
      { timeoutMs: 30_000 },
    );
  });
});
