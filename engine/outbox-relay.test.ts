import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresServer } from '../local/postgres-server.js';
import { RedisServer } from '../local/redis-server.js';
import { sharedServers } from '../test/support/isolation.js';
import { startTestRuntime, type TestRuntime, waitUntilSettled } from '../test/support/runtime.js';
import { DEFAULT_RUNTIME_SETTINGS } from '../worker/runtime/runtime.js';

async function streamLength(rt: TestRuntime): Promise<number> {
  return rt.redisHandle.redis.xlen(rt.settings.stream).catch(() => 0);
}

/** Runs relay passes, as the worker does on its interval, until no event is pending. */
async function relayUntilSettled(rt: TestRuntime): Promise<number> {
  let resent = 0;
  const settled = waitUntilSettled(rt).then(() => true);
  let done = false;
  void settled.then(() => {
    done = true;
  });
  while (!done) {
    resent += await rt.relay.runOnce();
    await Promise.race([settled, new Promise((resolve) => setTimeout(resolve, 100))]);
  }
  return resent;
}

describe('the outbox relay', () => {
  let redisServer: RedisServer;
  let rt: TestRuntime;
  beforeAll(async () => {
    redisServer = await RedisServer.start();
    rt = await startTestRuntime({
      redisUrl: redisServer.url,
      settings: { relay: { unpublishedAfterMs: 200, republishAfterMs: 300, batchSize: 50 } },
    });
  });
  afterAll(async () => {
    await rt.close();
    await redisServer.destroy();
  });

  it('resends notices lost when Redis restarts empty, and every event is applied', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 20; i += 1) {
      const { executionId } = await rt.service.startExecution({
        tenant: 'relay',
        workflow: 'ticket-lifecycle',
      });
      ids.push(executionId);
      for (let j = 0; j < 3; j += 1) {
        await rt.service.enqueueEvent({
          tenant: 'relay',
          executionId,
          event: 'comment',
          payload: { text: `${j}` },
        });
      }
    }
    expect(await streamLength(rt)).toBe(60);
    await redisServer.restartEmpty();
    expect(await streamLength(rt)).toBe(0);

    const { consumer } = await rt.startConsumer();
    // Nothing is in the stream now: only the relay, running as the worker runs it, brings the work back.
    const relaying = relayUntilSettled(rt);
    await waitUntilSettled(rt);
    const resent = await relaying;
    expect(resent).toBeGreaterThanOrEqual(20);
    for (const executionId of ids) {
      const execution = await rt.service.getExecution('relay', executionId);
      expect(execution?.data).toMatchObject({ commentCount: 3 });
    }
    expect(consumer.lifecycle).toBe('running');
  });

  it('loses nothing when the XADD fails after the commit', async () => {
    const { executionId } = await rt.service.startExecution({
      tenant: 'relay',
      workflow: 'ticket-lifecycle',
    });
    await redisServer.stop();
    // Commit succeeds, the notice cannot be sent: the event is still accepted.
    const accepted = await rt.service.enqueueEvent({
      tenant: 'relay',
      executionId,
      event: 'comment',
      payload: { text: 'x' },
    });
    const row = await rt.store.getEvent('relay', accepted.eventId);
    expect(row).toMatchObject({ status: 'pending', publishedAt: null });
    await redisServer.resume();
    await relayUntilSettled(rt);
    const resent = await rt.store.getEvent('relay', accepted.eventId);
    expect(resent?.status).toBe('applied');
    expect((await rt.service.getExecution('relay', executionId))?.data).toMatchObject({
      commentCount: 1,
    });
  });
});

describe('a notice never sent after a group commit', () => {
  let rt: TestRuntime;
  beforeAll(async () => {
    rt = await startTestRuntime({
      settings: { relay: { unpublishedAfterMs: 200, republishAfterMs: 300, batchSize: 50 } },
    });
  });
  afterAll(() => rt.close());

  it('is resent by the relay once the republish period passes, and the event is applied', async () => {
    const { executionId } = await rt.service.startExecution({
      tenant: 'crash',
      workflow: 'ticket-lifecycle',
    });
    // The commit as a group commit makes it, with the process dying before its XADD.
    const [appended] = await rt.store.appendEvents([
      {
        tenant: 'crash',
        executionId,
        eventId: '6f1c1d7e-3f7a-4c39-9a53-0d6f1b0c2a11',
        name: 'comment',
        payload: { text: 'lost' },
      },
    ]);
    expect(appended).toMatchObject({ seq: 1, duplicate: false });
    expect(await streamLength(rt)).toBe(0);
    await rt.startConsumer();
    await relayUntilSettled(rt);
    expect((await rt.service.getExecution('crash', executionId))?.data).toMatchObject({
      commentCount: 1,
    });
  });
});

describe('a failed database commit', () => {
  let pgServer: PostgresServer;
  let rt: TestRuntime;
  beforeAll(async () => {
    pgServer = await PostgresServer.start();
    rt = await startTestRuntime({ databaseUrl: pgServer.url, redisUrl: sharedServers().redisUrl });
  });
  afterAll(async () => {
    await rt.close().catch(() => {});
    await pgServer.destroy();
  });

  it('leaves no stream entry, and a notice without a committed event changes nothing', async () => {
    const { executionId } = await rt.service.startExecution({
      tenant: 'tx',
      workflow: 'ticket-lifecycle',
    });
    await rt.transport.ensureGroup();
    const before = await streamLength(rt);
    await pgServer.stop();
    await expect(
      rt.service.enqueueEvent({ tenant: 'tx', executionId, event: 'resolve' }),
    ).rejects.toThrow();
    expect(await streamLength(rt)).toBe(before);
    await pgServer.resume();

    // A notice naming the execution with no committed event behind it: nothing to do, and it is acked.
    await rt.transport.publish([
      { tenant: 'tx', executionId, eventId: '00000000-0000-4000-8000-000000000000' },
    ]);
    const [delivery] = await rt.transport.readNew('probe', 1, 100);
    const outcome = await rt.handler.handle(delivery!);
    expect(outcome).toMatchObject({ kind: 'done', result: { applied: 0, rejected: 0 } });
    const execution = await rt.service.getExecution('tx', executionId);
    expect(execution).toMatchObject({ state: 'new', appliedSeq: 0, nextSeq: 1 });
    const pending = (await rt.redisHandle.redis.xpending(
      rt.settings.stream,
      rt.settings.group,
    )) as [number];
    expect(pending[0]).toBe(0);
  });
});

describe('the relay trimming the stream', () => {
  let rt: TestRuntime;
  beforeAll(async () => {
    rt = await startTestRuntime({
      settings: { relay: { ...DEFAULT_RUNTIME_SETTINGS.relay, trimEveryMs: 60_000 } },
    });
  });
  afterAll(() => rt.close());

  /** Publishes `count` notices and has a consumer read and ack them all. */
  async function consumed(count: number): Promise<void> {
    const notices = Array.from({ length: count }, (_, i) => ({
      tenant: 'trim',
      executionId: `e${i}`,
    }));
    await rt.transport.publish(notices);
    const read = await rt.transport.readNew('probe', count, 100);
    expect(read).toHaveLength(count);
    await rt.transport.ack(read.map((delivery) => delivery.id));
  }

  it('removes consumed notices on its first pass, then at most once per interval', async () => {
    await rt.transport.ensureGroup();
    await consumed(300);
    await rt.relay.runOnce();
    const afterFirst = await streamLength(rt);
    // Approximate trimming keeps the node holding the last delivered entry (at most 100).
    expect(afterFirst).toBeLessThanOrEqual(100);

    await consumed(300);
    await rt.relay.runOnce();
    expect(await streamLength(rt)).toBe(afterFirst + 300);
  });
});
