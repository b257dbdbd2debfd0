import { Redis } from 'ioredis';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { waitFor } from '../../local/process.js';
import { RedisStreamTransport } from '../../stream/redis-stream-transport.js';
import { type Delivery, parseNotice } from '../../stream/transport.js';
import { type TestRedis, testRedis } from '../../test/support/isolation.js';
import type { DeliveryOutcome } from './delivery-handler.js';
import { type ConsumerOptions, StreamConsumer } from './stream-consumer.js';

const GROUP = 'workflow-workers';

/** A reader that says whether an XREADGROUP is in progress, so a test can wait for the loops to settle. */
class WatchedReader extends RedisStreamTransport {
  reading = 0;

  override async readNew(consumer: string, count: number, blockMs: number): Promise<Delivery[]> {
    this.reading += 1;
    try {
      return await super.readNew(consumer, count, blockMs);
    } finally {
      this.reading -= 1;
    }
  }
}

/** Stands in for the delivery handler: each delivery runs until the test lets it finish, then is acked. */
class GatedHandler {
  /** Execution ids in the order their deliveries started. */
  readonly started: string[] = [];
  active = 0;
  private readonly gates = new Map<string, () => void>();
  private open = false;
  /** What each delivery ends as: 'busy' (tried again later) or 'done' (its catch-up succeeded). */
  outcome: 'busy' | 'done' = 'busy';

  constructor(private readonly transport: RedisStreamTransport) {}

  async handle(delivery: Delivery): Promise<DeliveryOutcome> {
    const notice = parseNotice(delivery.fields)!;
    this.started.push(notice.executionId);
    this.active += 1;
    try {
      if (!this.open)
        await new Promise<void>((resolve) => this.gates.set(notice.executionId, resolve));
      await this.transport.ack([delivery.id]);
      if (this.outcome === 'done')
        return {
          kind: 'done',
          notice,
          result: {
            applied: 0,
            rejected: 0,
            eventsReplayed: 0,
            actionsRun: 0,
            blocked: false,
            outcomes: [],
          },
        };
      return { kind: 'busy', notice };
    } finally {
      this.active -= 1;
    }
  }

  finish(executionId: string): void {
    this.gates.get(executionId)?.();
  }

  /** Lets everything running or still to come finish (for cleanup). */
  finishAll(): void {
    this.open = true;
    for (const resolve of this.gates.values()) resolve();
  }
}

describe('the stream consumer', () => {
  let redisHandle: TestRedis;
  let stream: string;
  let transport: RedisStreamTransport;
  let handler: GatedHandler;
  const connections: Redis[] = [];
  const consumers: StreamConsumer[] = [];

  beforeEach(async () => {
    redisHandle = await testRedis();
    stream = `${redisHandle.prefix}workflow:events:global`;
    transport = new RedisStreamTransport(redisHandle.redis, stream, GROUP);
    await transport.ensureGroup();
    handler = new GatedHandler(transport);
  });

  afterEach(async () => {
    handler.finishAll();
    for (const consumer of consumers.splice(0)) await consumer.drain(5_000);
    for (const connection of connections.splice(0)) connection.disconnect();
    await redisHandle.close();
  });

  async function startConsumer(
    options: Pick<ConsumerOptions, 'loops' | 'concurrency'> & Partial<ConsumerOptions>,
  ) {
    const readers = Array.from({ length: options.loops }, () => {
      const connection = new Redis(redisHandle.url, { maxRetriesPerRequest: 1 });
      connections.push(connection);
      return new WatchedReader(connection, stream, GROUP);
    });
    const consumer = new StreamConsumer(
      transport,
      readers,
      handler,
      {
        consumerName: 'consumer-under-test',
        batchSize: 10,
        blockMs: 100,
        idleTimeoutMs: 120_000,
        ...options,
      },
      pino({ level: 'silent' }),
    );
    consumers.push(consumer);
    await consumer.start();
    return { consumer, readers };
  }

  async function pendingCount(): Promise<number> {
    const [count] = (await redisHandle.redis.xpending(stream, GROUP)) as [number];
    return count;
  }

  /** Until `running` deliveries run and no reading loop has a read in progress. */
  async function settled(readers: WatchedReader[], running: number): Promise<void> {
    await waitFor(`${running} deliveries running and the reading loops idle`, () => {
      return handler.started.length === running && readers.every((reader) => reader.reading === 0);
    });
  }

  it('never holds more deliveries than its concurrency, whatever the number of reading loops', async () => {
    const executions = Array.from({ length: 10 }, (_, i) => `exec-${i}`);
    await transport.publish(executions.map((executionId) => ({ tenant: 't', executionId })));
    const { consumer, readers } = await startConsumer({ loops: 3, concurrency: 2 });

    await settled(readers, 2);
    expect(consumer.inFlight).toBe(2);
    // What this consumer read but could not run would sit in its pending list, out of others' reach.
    expect(await pendingCount()).toBe(2);

    handler.finishAll();
    await waitFor('every notice handled', () => handler.started.length === executions.length);
    expect(new Set(handler.started)).toEqual(new Set(executions));
  });

  it('drains without running a delivery it handed back, and returns only when work has ended', async () => {
    await transport.publish([
      { tenant: 't', executionId: 'first' },
      { tenant: 't', executionId: 'second' },
    ]);
    const { consumer, readers } = await startConsumer({ loops: 2, concurrency: 1 });
    await settled(readers, 1);
    const [running] = handler.started;
    const other = running === 'first' ? 'second' : 'first';

    let activeWhenDrained = -1;
    const draining = consumer.drain(20_000).then((result) => {
      activeWhenDrained = handler.active;
      return result;
    });
    // Whatever waited is handed back (or was never read): only the running delivery stays pending.
    await waitFor('only the running delivery pending', async () => (await pendingCount()) === 1);
    handler.finish(running!);
    const result = await draining;

    expect(result.finished).toBe(true);
    expect(activeWhenDrained).toBe(0);
    expect(handler.started).toEqual([running]);
    expect(consumer.inFlight).toBe(0);
    // The other notice is there for another consumer to take at once.
    const [next] = await transport.readNew('another-consumer', 10, 100);
    expect(next && parseNotice(next.fields)?.executionId).toBe(other);
    expect(handler.started).toEqual([running]);
  });

  it('gives re-sent notices of a running execution no room of their own: other work goes on', async () => {
    await transport.publish([{ tenant: 't', executionId: 'slow' }]);
    const { consumer } = await startConsumer({ loops: 2, concurrency: 2 });
    await waitFor('the slow execution to run', () => handler.started.includes('slow'));
    // The relay re-sends notices for the slow execution while it runs.
    await transport.publish(
      Array.from({ length: 5 }, () => ({ tenant: 't', executionId: 'slow' })),
    );
    await transport.publish([
      { tenant: 't', executionId: 'other-1' },
      { tenant: 't', executionId: 'other-2' },
    ]);
    await waitFor('other work to start beside it', () => handler.started.includes('other-1'));
    handler.finish('other-1');
    await waitFor('the next to start', () => handler.started.includes('other-2'));
    handler.finish('other-2');
    // One follow-up waits behind the running delivery; the other copies were acked as covered by it.
    await waitFor('only the running delivery and its follow-up pending', async () => {
      return (await pendingCount()) === 2;
    });
    expect(consumer.inFlight).toBe(2);
    handler.finish('slow');
    await waitFor(
      'the follow-up to run',
      () => handler.started.filter((id) => id === 'slow').length === 2,
    );
    handler.finish('slow');
    await waitFor('nothing pending', async () => (await pendingCount()) === 0);
    expect(handler.started.filter((id) => id === 'slow')).toHaveLength(2);
  });

  it("acks notices that reached it before their execution's catch-up began once that catch-up succeeds", async () => {
    handler.outcome = 'done';
    // Read together: the first leads, the second waits behind it, the third is covered at once.
    await transport.publish(
      Array.from({ length: 3 }, () => ({ tenant: 't', executionId: 'batch' })),
    );
    await transport.publish([{ tenant: 't', executionId: 'other' }]);
    const { consumer } = await startConsumer({ loops: 1, concurrency: 4 });
    await waitFor('both executions to run', () => handler.started.length === 2);
    handler.finish('batch');
    handler.finish('other');
    await waitFor('nothing pending', async () => (await pendingCount()) === 0);
    // The follower's events were committed before the lead's catch-up read: it needs no run.
    expect(handler.started.filter((id) => id === 'batch')).toHaveLength(1);
    expect(consumer.inFlight).toBe(0);
  });

  it('acks without a run a notice added before a catch-up of its execution began here and succeeded', async () => {
    handler.outcome = 'done';
    await transport.publish([{ tenant: 't', executionId: 'x' }]);
    await transport.publish([{ tenant: 't', executionId: 'y' }]);
    await transport.publish([{ tenant: 't', executionId: 'x' }]);
    // Added well before the first catch-up of x begins (beyond the clock margin).
    await new Promise((resolve) => setTimeout(resolve, 300));
    // One at a time: the second notice of x is read only after x's catch-up ended.
    await startConsumer({ loops: 1, concurrency: 1 });
    await waitFor('x to run', () => handler.started.includes('x'));
    handler.finish('x');
    await waitFor('y to run', () => handler.started.includes('y'));
    handler.finish('y');
    await waitFor('nothing pending or unread', async () => {
      const groups = (await redisHandle.redis.xinfo('GROUPS', stream)) as unknown[][];
      const group = groups[0]!;
      return (await pendingCount()) === 0 && Number(group[group.indexOf('lag') + 1]) === 0;
    });
    expect(handler.started).toEqual(['x', 'y']);
  });

  it("runs a notice that arrived while its execution's catch-up ran, even when that succeeds", async () => {
    handler.outcome = 'done';
    await transport.publish([{ tenant: 't', executionId: 'late' }]);
    await startConsumer({ loops: 1, concurrency: 4 });
    await waitFor('the first to run', () => handler.started.includes('late'));
    await transport.publish([{ tenant: 't', executionId: 'late' }]);
    await waitFor('the late notice held', async () => (await pendingCount()) === 2);
    handler.finish('late');
    await waitFor('the late notice to run', () => handler.started.length === 2);
    handler.finish('late');
    await waitFor('nothing pending', async () => (await pendingCount()) === 0);
  });

  it("claims a dead consumer's entries while its own reads sit blocked with nothing to read", async () => {
    handler.finishAll();
    await transport.publish([{ tenant: 't', executionId: 'orphan' }]);
    // A consumer that read the entry and died.
    await redisHandle.redis.xreadgroup('GROUP', GROUP, 'dead', 'COUNT', 1, 'STREAMS', stream, '>');
    // Reads that block longer than the claim period, asking for more than the free room.
    await startConsumer({ loops: 2, concurrency: 8, blockMs: 5_000, idleTimeoutMs: 300 });
    await waitFor('the orphaned entry to run here', () => handler.started.includes('orphan'));
    await waitFor('nothing pending', async () => (await pendingCount()) === 0);
  });
});
