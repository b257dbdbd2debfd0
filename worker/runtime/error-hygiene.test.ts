import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../local/process.js';
import { migrateLatest } from '../../migrations/index.js';
import {
  type TestDatabase,
  type TestRedis,
  testDatabase,
  testRedis,
} from '../../test/support/isolation.js';
import {
  defineBareEvent,
  defineWorkflow,
  type WorkflowDefinition,
} from '../../workflow/definition.js';
import { WorkflowRegistry } from '../../workflow/registry.js';
import { createRuntime, DEFAULT_RUNTIME_SETTINGS, type Runtime } from './runtime.js';

const SECRETS = ['hunter2', 's3cr3t', 'p4ss'];
const DB_URL = 'postgres://svc:hunter2@db/x';
const HOOK_URL = 'https://svc:s3cr3t@h/x?password=p4ss';

type S = 'open';
type D = { failures: number };

/** Workflow code whose errors quote credentials, as driver errors do. */
const leakyFlow = defineWorkflow<S, D>({
  name: 'leaky-flow',
  version: 1,
  states: ['open'],
  initialState: 'open',
  finalStates: [],
  initialData: () => ({ failures: 0 }),
  events: {
    crash: defineBareEvent<S, D>([
      {
        from: ['open'],
        guard: () => {
          throw new Error(`could not connect to ${DB_URL}`);
        },
      },
    ]),
    deny: defineBareEvent<S, D>([{ from: ['open'], guard: () => `refused by ${HOOK_URL}` }]),
    call: defineBareEvent<S, D>([{ from: ['open'], actions: ['hook'] }]),
    hookFailed: {
      transitions: [{ from: ['open'], update: (d: D) => ({ failures: d.failures + 1 }) }],
    },
  },
  actions: {
    hook: {
      run: async () => {
        throw new Error(`POST ${HOOK_URL} answered 500 (db ${DB_URL})`);
      },
      onFailure: 'hookFailed',
    },
  },
}) as unknown as WorkflowDefinition;

describe('errors the worker stores', () => {
  let db: TestDatabase;
  let redisHandle: TestRedis;
  let redis: Redis;
  let runtime: Runtime;
  let closeConsumer: () => Promise<void>;
  const logLines: string[] = [];
  let stream: string;

  beforeAll(async () => {
    db = await testDatabase();
    await migrateLatest(db.knex);
    redisHandle = await testRedis();
    redis = new Redis(redisHandle.url, { maxRetriesPerRequest: 2 });
    stream = `${redisHandle.prefix}workflow:events:global`;
    const sink = new Writable({
      write(chunk, _encoding, done) {
        logLines.push(String(chunk));
        done();
      },
    });
    runtime = createRuntime({
      knex: db.knex,
      redis,
      registry: new WorkflowRegistry([leakyFlow]),
      logger: pino({ level: 'debug' }, sink),
      settings: {
        ...DEFAULT_RUNTIME_SETTINGS,
        stream,
        group: 'workflow-workers',
        workerId: 'hygiene-worker',
        lockPrefix: `${redisHandle.prefix}lock:`,
        maxDeliveries: 2,
        retryBaseMs: 10,
        retryMaxMs: 50,
      },
    });
    const { consumer, closeReaders } = runtime.createConsumer({
      consumerName: 'hygiene-worker',
      loops: 1,
      batchSize: 10,
      blockMs: 100,
      concurrency: 4,
      idleTimeoutMs: 30_000,
    });
    await consumer.start();
    closeConsumer = async () => {
      await consumer.drain(5_000);
      closeReaders();
    };
  });
  afterAll(async () => {
    await closeConsumer();
    redis.disconnect();
    await redisHandle.close();
    await db.close();
  });

  it('carry a code and a message without the credentials it quoted: PostgreSQL, the dead-letter stream, logs', async () => {
    const tenant = 'leak';
    const crashing = await runtime.service.startExecution({ tenant, workflow: 'leaky-flow' });
    const calling = await runtime.service.startExecution({ tenant, workflow: 'leaky-flow' });
    const denying = await runtime.service.startExecution({ tenant, workflow: 'leaky-flow' });
    const crash = await runtime.service.enqueueEvent({
      tenant,
      executionId: crashing.executionId,
      event: 'crash',
    });
    await runtime.service.enqueueEvent({ tenant, executionId: calling.executionId, event: 'call' });
    await runtime.service.enqueueEvent({ tenant, executionId: denying.executionId, event: 'deny' });

    await waitFor(
      'the crash event dead, the action failed and fed back, the denial rejected',
      async () => {
        const events = await db.knex('workflow_events').select('event_name', 'status');
        const status = (name: string) => events.find((e) => e.event_name === name)?.status;
        return (
          status('crash') === 'dead' &&
          status('hookFailed') === 'applied' &&
          status('deny') === 'rejected'
        );
      },
      { timeoutMs: 30_000 },
    );
    await waitFor('two dead letters', async () => (await redis.xlen(`${stream}:dlq`)) === 2);

    const stored: string[] = [];
    for (const table of [
      'workflow_executions',
      'workflow_events',
      'workflow_event_processing',
      'workflow_action_results',
      'workflow_snapshots',
    ]) {
      const result = await db.knex.raw(`select row_to_json(t)::text as row from ${table} t`);
      stored.push(...result.rows.map((r: { row: string }) => r.row));
    }
    const deadLetters = JSON.stringify(await redis.xrange(`${stream}:dlq`, '-', '+'));
    for (const secret of SECRETS) {
      expect(stored.join('\n')).not.toContain(secret);
      expect(deadLetters).not.toContain(secret);
      expect(logLines.join('')).not.toContain(secret);
    }

    // What a reader gets instead: a code, and the message with its credentials masked.
    const crashRow = await db
      .knex('workflow_event_processing')
      .where({ event_id: crash.eventId })
      .first('error_message');
    expect(crashRow.error_message).toMatch(
      /^WORKFLOW_CODE: event crash \(seq 1\) threw: could not connect to postgres:\/\/svc:\*\*\*@db\/x/,
    );
    const [action] = await runtime.store.actionResults(tenant, calling.executionId);
    expect(action).toMatchObject({ status: 'failed' });
    expect(action?.error).toMatch(
      /^ACTION_FAILED: action hook failed: POST https:\/\/svc:\*\*\*@h\/x\?password=\*\*\*/,
    );
    expect(deadLetters).toContain('WORKFLOW_CODE: ');
    expect(deadLetters).toContain('ACTION_FAILED: ');
  });
});
