import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type {
  ActionCursor,
  ActionIntent,
  BatchRead,
  BatchReadRequest,
  CatchUpBase,
  EventPage,
  ReadBounds,
} from '../../store/event-store.js';
import { PostgresEventStore } from '../../store/postgres-event-store.js';
import { startTestRuntime, type TestRuntime } from '../../test/support/runtime.js';
import {
  defineBareEvent,
  defineWorkflow,
  type WorkflowDefinition,
} from '../../workflow/definition.js';
import { WorkflowRegistry } from '../../workflow/registry.js';
import { BatchLock } from '../lock/batch-lock.js';
import { ActionRunner } from './actions.js';
import { ExecutionProcessor, StateCache } from './processor.js';

type D = { blobs: number; chars: number };

/** Every `blob` counts its payload; every `ping` triggers an action that reads its payload. */
const blobFlow = defineWorkflow<'open', D>({
  name: 'blob-flow',
  version: 1,
  states: ['open'],
  initialState: 'open',
  finalStates: [],
  initialData: () => ({ blobs: 0, chars: 0 }),
  events: {
    blob: defineBareEvent<'open', D>([
      {
        from: ['open'],
        update: (d, payload) => ({
          blobs: d.blobs + 1,
          chars: d.chars + String((payload as { text?: string }).text).length,
        }),
      },
    ]),
    ping: defineBareEvent<'open', D>([{ from: ['open'], actions: ['echo'] }]),
  },
  actions: {
    echo: {
      run: async ({ payload }) => ({ chars: String((payload as { text?: string }).text).length }),
    },
  },
}) as unknown as WorkflowDefinition;

const EVENT_CHARS = 20_000;
const READ_BYTES = 50_000;

/** The store, counting the payload bytes each read brings into this process. */
class MeasuredStore extends PostgresEventStore {
  readonly reads: number[] = [];

  private note(payloads: readonly unknown[]): void {
    this.reads.push(payloads.reduce<number>((sum, p) => sum + JSON.stringify(p).length, 0));
  }

  override async catchUpBase(
    tenant: string,
    executionId: string,
    appliedSeq: number,
    bounds: ReadBounds,
  ): Promise<CatchUpBase | undefined> {
    const read = await super.catchUpBase(tenant, executionId, appliedSeq, bounds);
    if (read) this.note([...read.base.events, ...read.waiting].map((e) => e.payload));
    return read;
  }

  override async readBatch(
    requests: readonly BatchReadRequest[],
    bounds: ReadBounds,
  ): Promise<BatchRead[]> {
    const reads = await super.readBatch(requests, bounds);
    // Bounded per execution: each execution's part counts as one read.
    for (const read of reads)
      this.note([...(read.base?.events ?? []), ...read.waiting].map((e) => e.payload));
    return reads;
  }

  override async eventsAfter(
    tenant: string,
    executionId: string,
    afterSeq: number,
    bounds: ReadBounds,
  ): Promise<EventPage> {
    const page = await super.eventsAfter(tenant, executionId, afterSeq, bounds);
    this.note(page.events.map((e) => e.payload));
    return page;
  }

  override async pendingActions(
    tenant: string,
    executionId: string,
    bounds: ReadBounds & { after?: ActionCursor },
  ): Promise<ActionIntent[]> {
    const intents = await super.pendingActions(tenant, executionId, bounds);
    this.note(intents.map((i) => i.payload));
    return intents;
  }
}

describe('what a worker reads into memory for one delivery', () => {
  let rt: TestRuntime;
  beforeAll(async () => {
    rt = await startTestRuntime({ workflows: [blobFlow], settings: { snapshotEvery: 1_000 } });
  });
  afterAll(() => rt.close());

  function processor(store: MeasuredStore): ExecutionProcessor {
    const lock = new BatchLock(rt.redisHandle.redis, {
      ttlMs: 5_000,
      keyPrefix: rt.settings.lockPrefix,
    });
    return new ExecutionProcessor(
      store,
      new WorkflowRegistry([blobFlow]),
      lock,
      new ActionRunner(store, { timeoutMs: 5_000, readBytes: READ_BYTES }),
      { workerId: 'bounded', batchSize: 100, snapshotEvery: 1_000, readBytes: READ_BYTES },
    );
  }

  async function appendBlobs(executionId: string, name: string, count: number) {
    for (let i = 0; i < count; i += 1)
      await rt.store.appendEvent({
        tenant: 'mem',
        executionId,
        eventId: randomUUID(),
        name,
        payload: { text: 'x'.repeat(EVENT_CHARS) },
      });
  }

  /** A read stays within its budget, or brings a single event that alone exceeds it. */
  const withinBudget = (bytes: number) => bytes <= READ_BYTES + EVENT_CHARS + 100;

  it('reads waiting events, the replay since the last snapshot and pending actions in byte-bounded reads', async () => {
    const { executionId } = await rt.service.startExecution({
      tenant: 'mem',
      workflow: 'blob-flow',
    });
    await appendBlobs(executionId, 'blob', 30);

    const warm = new MeasuredStore(rt.db.knex);
    const first = await processor(warm).process({ tenant: 'mem', executionId });
    expect(first.applied).toBe(30);
    expect(warm.reads.length).toBeGreaterThan(5);
    expect(warm.reads.every(withinBudget)).toBe(true);

    // A worker with nothing cached replays the 30 events since the snapshot, a page at a time.
    await appendBlobs(executionId, 'blob', 1);
    await appendBlobs(executionId, 'ping', 12);
    const cold = new MeasuredStore(rt.db.knex);
    const second = await processor(cold).process({ tenant: 'mem', executionId });
    expect(second).toMatchObject({ applied: 13, eventsReplayed: 30, actionsRun: 12 });
    expect(cold.reads.every(withinBudget)).toBe(true);
    const execution = await rt.store.getExecution('mem', executionId);
    expect(execution?.data).toEqual({ blobs: 31, chars: 31 * EVENT_CHARS });
    const results = await rt.store.actionResults('mem', executionId);
    expect(results.map((r) => r.status)).toEqual(Array(12).fill('succeeded'));
  });
});

describe('the state cache', () => {
  const execution = (executionId: string, appliedSeq = 1) => ({
    tenant: 't',
    executionId,
    workflowName: 'w',
    workflowVersion: 1,
    state: 'open',
    data: {},
    status: 'active' as const,
    nextSeq: appliedSeq + 1,
    appliedSeq,
    createdAt: new Date(),
    updatedAt: new Date(),
  });
  const state = (chars: number) => ({ state: 'open', data: { text: 'y'.repeat(chars) } });

  it('keeps no more bytes than its budget, letting the least recently kept go first', () => {
    const cache = new StateCache(100_000);
    for (let i = 0; i < 10; i += 1) cache.keep(execution(`e${i}`), state(20_000));
    expect(cache.bytes).toBeLessThanOrEqual(100_000);
    expect(cache.take(execution('e0'))).toBeUndefined();
    expect(cache.take(execution('e9'))).toEqual(state(20_000));
    // A state larger than the whole budget is not kept at all.
    cache.keep(execution('huge'), state(60_000));
    expect(cache.take(execution('huge'))).toBeUndefined();
    expect(cache.bytes).toBeLessThanOrEqual(100_000);
  });
});
