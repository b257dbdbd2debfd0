import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type TestRedis, testRedis } from '../test/support/isolation.js';
import { RedisStreamTransport } from './redis-stream-transport.js';

/**
 * More entries than one stream node holds (stream-node-max-entries is 100),
 * so the approximate trim has whole nodes it may remove.
 */
const ENTRIES = 300;

describe('trimming the stream', () => {
  let redisHandle: TestRedis;
  let stream: string;
  let ids: string[];

  beforeEach(async () => {
    redisHandle = await testRedis();
    stream = `${redisHandle.prefix}workflow:events:global`;
  });
  afterEach(() => redisHandle.close());

  /** A transport on `group`, its group created before anything is published (as workers do). */
  async function groupTransport(group: string): Promise<RedisStreamTransport> {
    const transport = new RedisStreamTransport(redisHandle.redis, stream, group);
    await transport.ensureGroup();
    return transport;
  }

  async function publish(): Promise<void> {
    const notices = Array.from({ length: ENTRIES }, (_, i) => ({
      tenant: 't',
      executionId: `exec-${i}`,
    }));
    const publisher = new RedisStreamTransport(redisHandle.redis, stream, 'unused');
    await publisher.publish(notices);
    const entries = await redisHandle.redis.xrange(stream, '-', '+');
    ids = entries.map(([id]) => id);
  }

  /** Reads `count` new entries for `transport`'s group and acks those not in `keepPending`. */
  async function consume(
    transport: RedisStreamTransport,
    count: number,
    keepPending: readonly string[] = [],
  ): Promise<void> {
    const read = await transport.readNew('reader', count, 100);
    expect(read).toHaveLength(count);
    await transport.ack(read.map((d) => d.id).filter((id) => !keepPending.includes(id)));
  }

  async function present(from: string, to = '+'): Promise<number> {
    return (await redisHandle.redis.xrange(stream, from, to)).length;
  }

  async function lags(): Promise<Record<string, unknown>> {
    const groups = (await redisHandle.redis.xinfo('GROUPS', stream)) as unknown[][];
    const byName: Record<string, unknown> = {};
    for (const flat of groups) {
      const fields = new Map<unknown, unknown>();
      for (let i = 0; i + 1 < flat.length; i += 2) fields.set(flat[i], flat[i + 1]);
      byName[String(fields.get('name'))] = fields.get('lag');
    }
    return byName;
  }

  it('removes what the group acknowledged, and keeps what is pending or unread', async () => {
    const workers = await groupTransport('workers');
    await publish();
    const pendingId = ids[9]!;
    await consume(workers, 200, [pendingId]);

    // Entries 1..200 were read, but #10 is still pending: nothing from #10 on may go.
    expect(await workers.trimConsumed()).toMatchObject({ floor: pendingId });
    expect(await present(pendingId)).toBe(ENTRIES - 9);

    await workers.ack([pendingId]);
    const { removed, floor } = await workers.trimConsumed();
    expect(floor).toBe(ids[199]);
    // Whole nodes of at most 100 entries go, so at least the first 100 (all before #200's node).
    expect(removed).toBeGreaterThanOrEqual(100);
    expect(await present('-', ids[99]!)).toBe(0);
    expect(await redisHandle.redis.xlen(stream)).toBe(ENTRIES - removed);
    // The last delivered entry and everything unread stay.
    expect(await present(ids[199]!)).toBe(101);
    expect(await lags()).toEqual({ workers: 100 });
  });

  it('keeps what any group has not consumed yet', async () => {
    const workers = await groupTransport('workers');
    const audit = await groupTransport('audit');
    await publish();
    await consume(workers, ENTRIES);
    await consume(audit, 50);

    expect(await workers.trimConsumed()).toMatchObject({ floor: ids[49] });
    expect(await present(ids[49]!)).toBe(ENTRIES - 49);
    expect(await lags()).toEqual({ workers: 0, audit: ENTRIES - 50 });

    await consume(audit, 250);
    const { removed, floor } = await workers.trimConsumed();
    expect(floor).toBe(ids[ENTRIES - 1]);
    expect(removed).toBeGreaterThanOrEqual(200);
    expect(await present(ids[ENTRIES - 1]!)).toBe(1);
    // The operator reads backlog from XINFO GROUPS: a trim must leave lag a number.
    expect(await lags()).toEqual({ workers: 0, audit: 0 });
  });

  it('keeps lag a number for a group that read nothing while another trimmed', async () => {
    const workers = await groupTransport('workers');
    await publish();
    await consume(workers, 200);
    await workers.trimConsumed();
    // A group created after the trim at '0' (what ensureGroup does) starts before the first entry.
    const late = await groupTransport('late');
    const firstLeft = (await redisHandle.redis.xrange(stream, '-', '+', 'COUNT', 1))[0]![0];
    expect(firstLeft).not.toBe(ids[0]);
    expect(await lags()).toEqual({ workers: 100, late: await redisHandle.redis.xlen(stream) });
    // ...and it holds back any further trim until it has read.
    expect(await late.trimConsumed()).toEqual({ removed: 0, floor: '0-0' });
  });

  it('trims nothing without a group, and nothing for a missing stream', async () => {
    const workers = new RedisStreamTransport(redisHandle.redis, stream, 'workers');
    expect(await workers.trimConsumed()).toEqual({ removed: 0, floor: undefined });
    await publish();
    expect(await workers.trimConsumed()).toEqual({ removed: 0, floor: undefined });
    expect(await redisHandle.redis.xlen(stream)).toBe(ENTRIES);
  });
});
