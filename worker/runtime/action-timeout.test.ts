import v8 from 'node:v8';
import vm from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../local/process.js';
import { startTestRuntime, type TestRuntime } from '../../test/support/runtime.js';
import {
  defineBareEvent,
  defineWorkflow,
  type WorkflowDefinition,
} from '../../workflow/definition.js';

/** A workflow whose `hang` event triggers an action that never settles. */
const hangFlow = defineWorkflow<'open', { steps: number }>({
  name: 'hang-flow',
  version: 1,
  states: ['open'],
  initialState: 'open',
  finalStates: [],
  initialData: () => ({ steps: 0 }),
  events: {
    hang: defineBareEvent<'open', { steps: number }>([{ from: ['open'], actions: ['hang'] }]),
    step: defineBareEvent<'open', { steps: number }>([
      { from: ['open'], update: (d) => ({ steps: d.steps + 1 }) },
    ]),
  },
  actions: { hang: { run: () => new Promise(() => {}) } },
}) as unknown as WorkflowDefinition;

/** Garbage collection on demand, without starting the test process with --expose-gc. */
function exposeGc(): () => void {
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

describe('an action that never settles', () => {
  let rt: TestRuntime;
  let churn: NodeJS.Timeout;

  beforeAll(async () => {
    rt = await startTestRuntime({
      workflows: [hangFlow],
      settings: { actionTimeoutMs: 300, maxDeliveries: 2 },
    });
    // Allocation churn with full collections: a timeout signal only weakly
    // held is collected here before it fires.
    const gc = exposeGc();
    churn = setInterval(() => {
      const garbage: object[] = [];
      for (let i = 0; i < 50_000; i += 1) garbage.push({ i });
      gc();
    }, 25);
  });
  afterAll(async () => {
    clearInterval(churn);
    await rt.close();
  });

  it('times out, is recorded as failed (timeout), and the execution goes on', async () => {
    await rt.startConsumer({ concurrency: 2 });
    const { executionId } = await rt.service.startExecution({
      tenant: 'hang',
      workflow: 'hang-flow',
    });
    await rt.service.enqueueEvent({ tenant: 'hang', executionId, event: 'hang' });

    await waitFor(
      'the hung action to be recorded as failed',
      async () => (await rt.store.actionResults('hang', executionId))[0]?.status === 'failed',
      { timeoutMs: 30_000 },
    );
    const [result] = await rt.store.actionResults('hang', executionId);
    expect(result).toMatchObject({ actionName: 'hang', status: 'failed', attempts: 2 });
    expect(result?.error).toMatch(/^ACTION_TIMEOUT: action \S+:hang timed out after 300 ms/);

    // The lock and the delivery were let go: later work of the execution runs.
    await rt.service.enqueueEvent({ tenant: 'hang', executionId, event: 'step' });
    await waitFor(
      'the next event to be applied',
      async () => (await rt.service.getExecution('hang', executionId))?.appliedSeq === 2,
      { timeoutMs: 30_000 },
    );
    expect((await rt.service.getExecution('hang', executionId))?.data).toEqual({ steps: 1 });
  });
});
