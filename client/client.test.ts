import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../local/process.js';
import { startTestRuntime, type TestRuntime, waitUntilSettled } from '../test/support/runtime.js';
import {
  BadInputError,
  ConflictError,
  createFlowpoolClient,
  defineBareEvent,
  defineEvent,
  defineWorkflow,
  type FlowpoolClient,
  Type,
  UnavailableError,
  type WorkflowDefinition,
} from './index.js';

type CounterState = 'open' | 'done';
interface CounterData {
  total: number;
}

/** An application's own workflow, written with the helpers the package exports. */
const counter = defineWorkflow<CounterState, CounterData>({
  name: 'counter',
  version: 1,
  states: ['open', 'done'],
  initialState: 'open',
  finalStates: ['done'],
  initialData: () => ({ total: 0 }),
  events: {
    add: defineEvent<CounterState, CounterData, ReturnType<typeof addPayload>>(addPayload(), [
      { from: ['open'], update: (data, payload) => ({ total: data.total + payload.amount }) },
    ]),
    finish: defineBareEvent<CounterState, CounterData>([{ from: ['open'], to: 'done' }]),
  },
  actions: {},
});

function addPayload() {
  return Type.Object({ amount: Type.Integer() }, { additionalProperties: false });
}

describe('the client library', () => {
  let rt: TestRuntime;
  let client: FlowpoolClient;
  let other: FlowpoolClient;

  beforeAll(async () => {
    rt = await startTestRuntime({ workflows: [counter as unknown as WorkflowDefinition] });
    await rt.startConsumer();
    const options = {
      databaseUrl: rt.db.url,
      redisUrl: rt.redisHandle.url,
      workflows: [counter],
      stream: rt.settings.stream,
      group: rt.settings.group,
    };
    client = createFlowpoolClient({ ...options, tenant: 'acme' });
    other = createFlowpoolClient({ ...options, tenant: 'globex' });
  });
  afterAll(async () => {
    await client.close();
    await other.close();
    await rt.close();
  });

  it('starts an execution, enqueues events the workers apply, and reads state and history', async () => {
    const started = await client.startExecution<CounterData>({
      workflow: 'counter',
      executionId: 'C-1',
    });
    expect(started).toEqual({
      executionId: 'C-1',
      workflow: 'counter',
      state: 'open',
      data: { total: 0 },
    });
    const first = await client.enqueueEvent({
      executionId: 'C-1',
      event: 'add',
      payload: { amount: 2 },
    });
    expect(first).toMatchObject({ seq: 1, duplicate: false });
    await client.enqueueEvent({ executionId: 'C-1', event: 'add', payload: { amount: 3 } });
    await client.enqueueEvent({ executionId: 'C-1', event: 'finish' });
    await waitUntilSettled(rt);
    const execution = await client.getExecution<CounterData>('C-1');
    expect(execution).toEqual({
      executionId: 'C-1',
      workflow: 'counter',
      state: 'done',
      data: { total: 5 },
      status: 'completed',
      appliedSeq: 3,
    });
    const history = await client.getHistory('C-1');
    expect(history.map((e) => [e.seq, e.event, e.status, e.fromState, e.toState])).toEqual([
      [1, 'add', 'applied', 'open', 'open'],
      [2, 'add', 'applied', 'open', 'open'],
      [3, 'finish', 'applied', 'open', 'done'],
    ]);
    expect((await client.getHistory('C-1', { afterSeq: 1, limit: 1 })).map((e) => e.seq)).toEqual([
      2,
    ]);
  });

  it('keeps tenants apart', async () => {
    await client.startExecution({ workflow: 'counter', executionId: 'C-private' });
    expect(await other.getExecution('C-private')).toBeUndefined();
    expect(await other.getHistory('C-private')).toEqual([]);
    await expect(
      other.enqueueEvent({ executionId: 'C-private', event: 'finish' }),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' });
    // The same id is free for another tenant.
    await other.startExecution({ workflow: 'counter', executionId: 'C-private' });
  });

  it('returns the first event for a repeated idempotency key', async () => {
    await client.startExecution({ workflow: 'counter', executionId: 'C-idem' });
    const request = {
      executionId: 'C-idem',
      event: 'add',
      payload: { amount: 1 },
      idempotencyKey: 'order-7',
    };
    const first = await client.enqueueEvent(request);
    const again = await client.enqueueEvent(request);
    expect(again).toEqual({ eventId: first.eventId, seq: first.seq, duplicate: true });
    await expect(
      client.enqueueEvent({ ...request, payload: { amount: 2 } }),
    ).rejects.toBeInstanceOf(ConflictError);
  });

  it('refuses bad input with typed errors naming the field', async () => {
    await client.startExecution({ workflow: 'counter', executionId: 'C-bad' });
    const cases: Array<[() => Promise<unknown>, string]> = [
      [
        () => client.startExecution({ workflow: 'counter', executionId: 'no spaces' }),
        'executionId',
      ],
      [
        () => client.enqueueEvent({ executionId: 'C-bad', event: 'add', payload: { amount: 'x' } }),
        'payload',
      ],
      [() => client.enqueueEvent({ executionId: 'C-bad', event: 'nope' }), 'event'],
      [
        () =>
          client.enqueueEvent({
            executionId: 'C-bad',
            event: 'finish',
            payload: { note: 'a\u0000' },
          }),
        'payload.note',
      ],
      [() => client.getHistory('C-bad', { limit: 0 }), 'limit'],
      [() => client.getExecution('bad/id'), 'executionId'],
    ];
    for (const [attempt, field] of cases) {
      const error = (await attempt().catch((e: unknown) => e)) as BadInputError;
      expect(error, field).toBeInstanceOf(BadInputError);
      expect(error.field).toBe(field);
    }
    await expect(client.startExecution({ workflow: 'missing' })).rejects.toMatchObject({
      code: 'UNKNOWN_WORKFLOW',
    });
    await expect(
      client.startExecution({ workflow: 'counter', executionId: 'C-bad' }),
    ).rejects.toMatchObject({ code: 'EXECUTION_EXISTS' });
    expect(await client.getHistory('C-bad')).toEqual([]);
  });

  it('enqueues many events at once with a result per event', async () => {
    await client.startExecution({ workflow: 'counter', executionId: 'C-bulk-1' });
    await client.startExecution({ workflow: 'counter', executionId: 'C-bulk-2' });
    await other.startExecution({ workflow: 'counter', executionId: 'C-bulk-other' });
    const results = await client.enqueueEvents([
      { executionId: 'C-bulk-1', event: 'add', payload: { amount: 1 }, idempotencyKey: 'b-1' },
      { executionId: 'C-bulk-2', event: 'add', payload: { amount: 10 } },
      { executionId: 'C-bulk-1', event: 'add', payload: { amount: 1 }, idempotencyKey: 'b-1' },
      { executionId: 'C-bulk-1', event: 'add', payload: { amount: 5 }, idempotencyKey: 'b-1' },
      { executionId: 'C-bulk-1', event: 'add', payload: { amount: 'x' } },
      { executionId: 'C-bulk-other', event: 'add', payload: { amount: 1 } },
      { executionId: 'C-bulk-2', event: 'add', payload: { amount: 20 } },
      { executionId: 'C-bulk-1', event: 'finish' },
    ]);
    expect(results.map((r) => (r.status === 'error' ? r.code : r.status))).toEqual([
      'accepted',
      'accepted',
      'duplicate',
      'IDEMPOTENCY_CONFLICT',
      'BAD_INPUT',
      'NOT_FOUND',
      'accepted',
      'accepted',
    ]);
    expect(results[2]).toEqual({ ...results[0], status: 'duplicate' });
    expect(results[4]).toMatchObject({ field: 'payload' });
    expect(results.flatMap((r) => (r.status === 'error' ? [] : [r.seq]))).toEqual([1, 1, 1, 2, 2]);
    await waitUntilSettled(rt);
    expect(await client.getExecution('C-bulk-1')).toMatchObject({
      state: 'done',
      data: { total: 1 },
    });
    expect(await client.getExecution('C-bulk-2')).toMatchObject({ data: { total: 30 } });
    expect(await other.getHistory('C-bulk-other')).toEqual([]);
  });

  it('says UNAVAILABLE when PostgreSQL cannot be reached', async () => {
    const offline = createFlowpoolClient({
      databaseUrl: `postgres://nobody@127.0.0.1:${await freePort()}/none`,
      redisUrl: rt.redisHandle.url,
      tenant: 'acme',
    });
    try {
      const error = (await offline
        .getExecution('C-1')
        .catch((e: unknown) => e)) as UnavailableError;
      expect(error).toBeInstanceOf(UnavailableError);
      expect(error.code).toBe('UNAVAILABLE');
    } finally {
      await offline.close();
    }
  });
});
