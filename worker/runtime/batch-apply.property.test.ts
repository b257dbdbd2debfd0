import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FencedError, LockBusyError, WorkflowCodeError } from '../../core/errors.js';
import type { AppliedBatch } from '../../store/event-store.js';
import type { Notice } from '../../stream/transport.js';
import { startTestRuntime, type TestRuntime } from '../../test/support/runtime.js';
import {
  defineBareEvent,
  defineWorkflow,
  type WorkflowDefinition,
} from '../../workflow/definition.js';
import { fold, initialState } from '../../workflow/reducer.js';

type D = { n: number; closes: number };

/** `add` sums, `close`/`reopen` move between states (or are rejected), `boom` always throws. */
const tally = defineWorkflow<'open' | 'closed', D>({
  name: 'tally',
  version: 1,
  states: ['open', 'closed'],
  initialState: 'open',
  finalStates: [],
  initialData: () => ({ n: 0, closes: 0 }),
  events: {
    add: defineBareEvent<'open' | 'closed', D>([
      {
        from: ['open', 'closed'],
        update: (d, p) => ({ ...d, n: d.n + (p as unknown as { k: number }).k }),
      },
    ]),
    close: defineBareEvent<'open' | 'closed', D>([
      { from: ['open'], to: 'closed', update: (d) => ({ ...d, closes: d.closes + 1 }) },
    ]),
    reopen: defineBareEvent<'open' | 'closed', D>([{ from: ['closed'], to: 'open' }]),
    boom: defineBareEvent<'open' | 'closed', D>([
      {
        from: ['open', 'closed'],
        update: () => {
          throw new Error('boom');
        },
      },
    ]),
  },
  actions: {},
}) as unknown as WorkflowDefinition;

const EXECUTIONS = 6;
const TENANT = 'batch';

const event = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 1, max: 9 }).map((k) => ({ name: 'add', k })) },
  { weight: 2, arbitrary: fc.constant({ name: 'close', k: 0 }) },
  { weight: 2, arbitrary: fc.constant({ name: 'reopen', k: 0 }) },
  { weight: 1, arbitrary: fc.constant({ name: 'boom', k: 0 }) },
);

/**
 * Enqueue an event; deliver several notices at once (they form one batch:
 * duplicated, reordered, old ones again); or make another writer move some
 * executions past what the next batch read, inside that batch's commit.
 */
const step = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('enqueue' as const),
      execution: fc.nat({ max: EXECUTIONS - 1 }),
      event,
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('deliver' as const),
      picks: fc.array(fc.nat(), { minLength: 1, maxLength: 10 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('interfere' as const),
      executions: fc.uniqueArray(fc.nat({ max: EXECUTIONS - 1 }), { minLength: 1, maxLength: 3 }),
    }),
  },
);

describe('batched apply across executions', () => {
  let rt: TestRuntime;
  /** Another worker on the same database whose locks this one does not see (as after a lapse). */
  let other: TestRuntime;
  /** Executions the other writer catches up inside the next commit, before its fences. */
  const interfere = new Set<string>();
  let fenced = 0;

  beforeAll(async () => {
    rt = await startTestRuntime({
      workflows: [tally],
      settings: {
        snapshotEvery: 3,
        applyBatchSize: 4,
        beforeFence: async (batch: AppliedBatch) => {
          if (!interfere.delete(batch.executionId)) return;
          await catchUp(other, { tenant: batch.tenant, executionId: batch.executionId });
        },
      },
    });
    other = await startTestRuntime({
      workflows: [tally],
      shareWith: rt,
      settings: { snapshotEvery: 3, applyBatchSize: 4, lockPrefix: 'other-worker:' },
    });
  });
  afterAll(async () => {
    await other.close();
    await rt.close();
  });

  /** One delivery as the delivery handler treats it: a failing event is dead at once (one delivery allowed). */
  async function catchUp(runtime: TestRuntime, notice: Notice): Promise<void> {
    try {
      await runtime.processor.process(notice);
    } catch (error) {
      if (error instanceof FencedError || error instanceof LockBusyError) {
        if (error instanceof FencedError) fenced += 1;
        return;
      }
      if (error instanceof WorkflowCodeError && error.eventId !== undefined) {
        await runtime.store.markDead(notice, 'WORKFLOW_CODE: boom', {
          kind: 'event',
          eventId: error.eventId,
        });
        return;
      }
      throw error;
    }
  }

  it('leaves every execution at the pure fold of its accepted events, each applied once', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 40 }), async (steps) => {
        run += 1;
        interfere.clear();
        const ids: string[] = [];
        for (let i = 0; i < EXECUTIONS; i += 1) {
          const { executionId } = await rt.service.startExecution({
            tenant: TENANT,
            workflow: 'tally',
            executionId: `r${run}-e${i}`,
          });
          ids.push(executionId);
        }
        const sent = new Map<string, Array<{ name: string; payload: unknown }>>(
          ids.map((id) => [id, []]),
        );
        const notices: Notice[] = [];
        for (const s of steps) {
          if (s.kind === 'enqueue') {
            const executionId = ids[s.execution]!;
            const payload = { k: s.event.k };
            const { eventId } = await rt.service.enqueueEvent({
              tenant: TENANT,
              executionId,
              event: s.event.name,
              payload,
            });
            sent.get(executionId)!.push({ name: s.event.name, payload });
            notices.push({ tenant: TENANT, executionId, eventId });
          } else if (s.kind === 'deliver' && notices.length > 0) {
            // Delivered together, so they share batches.
            await Promise.all(s.picks.map((pick) => catchUp(rt, notices[pick % notices.length]!)));
          } else if (s.kind === 'interfere') {
            for (const i of s.executions) interfere.add(ids[i]!);
          }
        }
        interfere.clear();
        // Every execution gets a last notice (all in one batch) until nothing is left to do.
        for (let round = 0; round < 5; round += 1)
          await Promise.all(ids.map((executionId) => catchUp(rt, { tenant: TENANT, executionId })));

        for (const executionId of ids) {
          const accepted = sent.get(executionId)!;
          const history = await rt.service.history(TENANT, executionId);
          expect(history.map((e) => e.name)).toEqual(accepted.map((e) => e.name));
          // The first event whose code throws is the one dead, by identity; the later ones wait behind it.
          const failing = accepted.findIndex((e) => e.name === 'boom');
          const applied = failing === -1 ? accepted : accepted.slice(0, failing);
          const expected = fold(tally, initialState(tally, {}), applied);
          const execution = await rt.service.getExecution(TENANT, executionId);
          expect({ state: execution?.state, data: execution?.data }).toEqual(expected);
          expect(execution?.appliedSeq).toBe(applied.length);
          expect(history.map((e) => e.status)).toEqual(
            accepted.map((_, i) =>
              i < applied.length
                ? expect.stringMatching(/^(applied|rejected)$/)
                : i === failing
                  ? 'dead'
                  : 'pending',
            ),
          );
          const processing = await rt.db.knex('workflow_event_processing').whereIn(
            'event_id',
            history.slice(0, applied.length).map((e) => e.eventId),
          );
          expect(processing.map((p) => [p.status, p.attempt_count])).toEqual(
            applied.map(() => ['completed', 1]),
          );
        }
      }),
      {
        numRuns: 20,
        // Always among the runs: another writer moves e0 inside the commit
        // of a batch it shares with e1, so a fence surely fails at least once.
        examples: [
          [
            [
              { kind: 'enqueue', execution: 0, event: { name: 'add', k: 1 } },
              { kind: 'enqueue', execution: 1, event: { name: 'add', k: 2 } },
              { kind: 'interfere', executions: [0] },
              { kind: 'deliver', picks: [0, 1] },
            ],
          ],
        ],
      },
    );
    // The interference did make fences fail inside shared batches.
    expect(fenced).toBeGreaterThan(0);
  });
});
