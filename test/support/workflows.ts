import { Type } from '@sinclair/typebox';
import {
  defineBareEvent,
  defineEvent,
  defineWorkflow,
  type WorkflowDefinition,
} from '../../workflow/definition.js';

/** Calls made to the flaky action, by idempotency key: what an external system would see. */
export const flakyCalls: string[] = [];

/**
 * How many times the flaky action fails before it succeeds, and what it
 * does first on its n-th call (1-based); per test, reset before use.
 */
export const flakyPlan: {
  failuresBeforeSuccess: number;
  onCall?: ((call: number) => Promise<void>) | undefined;
} = { failuresBeforeSuccess: 0 };

/**
 * A small workflow for runtime tests: `step` counts, `explode` throws inside
 * its update (bad workflow code), `notify` triggers an action that fails as
 * planned, and `notifyFailed` is fed back when that action finally fails.
 */
type FlowState = 'open' | 'done';
const FailurePayload = Type.Object({
  action: Type.String(),
  eventId: Type.String(),
  error: Type.String(),
});
type FlowData = { steps: number; failures: number };

export const testWorkflow = defineWorkflow<FlowState, FlowData>({
  name: 'test-flow',
  version: 1,
  states: ['open', 'done'],
  initialState: 'open',
  finalStates: ['done'],
  initialData: () => ({ steps: 0, failures: 0 }),
  events: {
    step: defineBareEvent<FlowState, FlowData>([
      { from: ['open'], update: (d) => ({ ...d, steps: d.steps + 1 }) },
    ]),
    explode: defineBareEvent<FlowState, FlowData>([
      {
        from: ['open'],
        update: () => {
          throw new Error('update blew up');
        },
      },
    ]),
    notify: defineBareEvent<FlowState, FlowData>([{ from: ['open'], actions: ['flaky'] }]),
    notifyFailed: defineEvent<FlowState, FlowData, typeof FailurePayload>(FailurePayload, [
      {
        from: ['open'],
        update: (d: { steps: number; failures: number }) => ({ ...d, failures: d.failures + 1 }),
      },
    ]),
    finish: defineBareEvent<FlowState, FlowData>([{ from: ['open'], to: 'done' }]),
  },
  actions: {
    flaky: {
      run: async ({ idempotencyKey }) => {
        flakyCalls.push(idempotencyKey);
        const calls = flakyCalls.filter((key) => key === idempotencyKey).length;
        await flakyPlan.onCall?.(calls);
        const failedSoFar = calls - 1;
        if (failedSoFar < flakyPlan.failuresBeforeSuccess) throw new Error('downstream said no');
        return { sent: true };
      },
      onFailure: 'notifyFailed',
    },
  },
}) as unknown as WorkflowDefinition;
