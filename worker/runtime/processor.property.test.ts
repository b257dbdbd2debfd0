import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRuntime, type TestRuntime } from '../../test/support/runtime.js';
import { ticketLifecycle } from '../../workflow/bundled/ticket-lifecycle.js';
import type { WorkflowDefinition } from '../../workflow/definition.js';
import { fold, initialState } from '../../workflow/reducer.js';

const ticket = ticketLifecycle as unknown as WorkflowDefinition;

const ticketEvent = fc.oneof(
  fc.record({
    event: fc.constant('assign'),
    payload: fc.record({ assignee: fc.constantFrom('ana', 'bo', 'cy') }),
  }),
  fc.record({
    event: fc.constant('comment'),
    payload: fc.record({ text: fc.string({ maxLength: 8 }) }),
  }),
  fc.constantFrom(
    { event: 'resolve', payload: {} },
    { event: 'reopen', payload: {} },
    { event: 'close', payload: {} },
  ),
);

/** Enqueue an event, or deliver a notice (possibly again, possibly out of order) for one already enqueued. */
const step = fc.oneof(
  { weight: 3, arbitrary: ticketEvent.map((e) => ({ kind: 'enqueue' as const, ...e })) },
  { weight: 2, arbitrary: fc.nat().map((pick) => ({ kind: 'deliver' as const, pick })) },
);

describe.each([
  { label: 'without snapshots', snapshotEvery: 0 },
  { label: 'with a snapshot every event', snapshotEvery: 1 },
  { label: 'with a snapshot every 3 events', snapshotEvery: 3 },
])('processing equals a pure fold of the accepted events ($label)', ({ snapshotEvery }) => {
  let rt: TestRuntime;
  beforeAll(async () => {
    rt = await startTestRuntime({ settings: { snapshotEvery, applyBatchSize: 4 } });
  });
  afterAll(() => rt.close());

  it('holds for random event sequences with duplicated and reordered notices', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 25 }), async (steps) => {
        const { executionId } = await rt.service.startExecution({
          tenant: 'prop',
          workflow: 'ticket-lifecycle',
        });
        const sent: Array<{ name: string; payload: unknown }> = [];
        const notices: Array<{ tenant: string; executionId: string; eventId: string }> = [];
        for (const s of steps) {
          if (s.kind === 'enqueue') {
            const { eventId } = await rt.service.enqueueEvent({
              tenant: 'prop',
              executionId,
              event: s.event,
              payload: s.payload,
            });
            sent.push({ name: s.event, payload: s.payload });
            notices.push({ tenant: 'prop', executionId, eventId });
          } else if (notices.length > 0) {
            await rt.processor.process(notices[s.pick % notices.length]!);
          }
        }
        // The last notice may arrive before the others; each one catches up everything.
        for (const notice of [...notices].reverse()) await rt.processor.process(notice);

        const expected = fold(ticket, initialState(ticket, {}), sent);
        const execution = await rt.service.getExecution('prop', executionId);
        expect({ state: execution?.state, data: execution?.data }).toEqual(expected);
        expect(execution?.appliedSeq).toBe(sent.length);
        const history = await rt.service.history('prop', executionId);
        expect(history.every((e) => e.status === 'applied' || e.status === 'rejected')).toBe(true);
        const processing = await rt.db.knex('workflow_event_processing').whereIn(
          'event_id',
          history.map((e) => e.eventId),
        );
        expect(processing.every((p) => p.attempt_count === 1 && p.status === 'completed')).toBe(
          true,
        );
      }),
      { numRuns: 25 },
    );
  });
});
