import net from 'node:net';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../local/process.js';
import { decide } from '../../scaling/decide.js';
import { EMPTY_HISTORY } from '../../scaling/history.js';
import { type TestRedis, testRedis } from '../../test/support/isolation.js';
import { createBacklogRedis } from './connection.js';
import { RedisBacklogSource } from './redis-backlog-source.js';
import { parseGroups } from './xinfo.js';

const GROUP = 'workers';
let t: TestRedis;
let redis: Redis;
let source: RedisBacklogSource;
let streams = 0;

beforeAll(async () => {
  t = await testRedis();
  redis = t.redis;
  source = new RedisBacklogSource(redis, { includeConsumers: true });
});
afterAll(async () => {
  await t.close();
});

/** A fresh stream of this test file, with the group created the way workers do (from 0). */
async function newStream(withGroup = true): Promise<string> {
  const stream = `${t.prefix}stream:${++streams}`;
  if (withGroup) await redis.xgroup('CREATE', stream, GROUP, '0', 'MKSTREAM');
  return stream;
}

async function add(stream: string, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push((await redis.xadd(stream, '*', 'n', String(i)))!);
  return ids;
}

/** Delivers up to `count` new entries to `consumer`; returns their ids. */
async function deliver(stream: string, consumer: string, count: number): Promise<string[]> {
  const reply = (await redis.xreadgroup(
    'GROUP',
    GROUP,
    consumer,
    'COUNT',
    count,
    'STREAMS',
    stream,
    '>',
  )) as Array<[string, Array<[string, string[]]>]> | null;
  return (reply?.[0]?.[1] ?? []).map(([id]) => id);
}

/** The lag exactly as Redis reports it (null when it does not know). */
async function rawLag(stream: string): Promise<number | undefined> {
  return parseGroups(await redis.xinfo('GROUPS', stream)).find((g) => g.name === GROUP)?.lag;
}

describe('RedisBacklogSource against Redis', () => {
  it('counts lag and pending through XADD, XREADGROUP and XACK', async () => {
    const stream = await newStream();
    expect(await source.read(stream, GROUP)).toMatchObject({
      readOk: true,
      lag: 0,
      pending: 0,
      backlog: 0,
      lagSource: 'xinfo',
      streamState: 'present',
    });
    await add(stream, 5);
    expect(await source.read(stream, GROUP)).toMatchObject({
      lag: 5,
      pending: 0,
      backlog: 5,
      entriesAdded: 5,
      length: 5,
    });
    const delivered = await deliver(stream, 'pod-a', 3);
    expect(await source.read(stream, GROUP)).toMatchObject({
      lag: 2,
      pending: 3,
      backlog: 5,
      lagSource: 'xinfo',
      entriesRead: 3,
    });
    await redis.xack(stream, GROUP, ...delivered.slice(0, 2));
    expect(await source.read(stream, GROUP)).toMatchObject({
      lag: 2,
      pending: 1,
      backlog: 3,
      lagSource: 'xinfo',
    });
  });

  it('estimates the lag, never as zero, when XDEL leaves Redis without one', async () => {
    const stream = await newStream();
    const ids = await add(stream, 5);
    await deliver(stream, 'pod-a', 2);
    await redis.xdel(stream, ids[3]!); // an entry the group has not seen yet
    expect(await rawLag(stream)).toBeUndefined();
    expect(await source.read(stream, GROUP)).toMatchObject({
      readOk: true,
      lag: 2,
      pending: 2,
      backlog: 4,
      lagSource: 'estimated',
      lagEstimate: 'counted',
    });
  });

  it('estimates the lag after XTRIM removed undelivered entries', async () => {
    const stream = await newStream();
    await add(stream, 6);
    await deliver(stream, 'pod-a', 2);
    await redis.xtrim(stream, 'MAXLEN', 2);
    // Redis 7.0 still counts the trimmed entries (lag 4 with 2 entries left);
    // whatever it reports, the reading must match the 2 entries still waiting.
    const raw = await rawLag(stream);
    const reading = await source.read(stream, GROUP);
    expect(reading).toMatchObject({ readOk: true, lag: 2, pending: 2 });
    expect(reading.lagSource).toBe(raw === 2 ? 'xinfo' : 'estimated');
  });

  it('falls back to an upper bound when there are more entries than it counts', async () => {
    const bounded = new RedisBacklogSource(redis, { countLimit: 3 });
    const stream = await newStream();
    const ids = await add(stream, 10);
    await redis.xdel(stream, ids[5]!);
    expect(await rawLag(stream)).toBeUndefined();
    expect(await bounded.read(stream, GROUP)).toMatchObject({
      lag: 9,
      lagSource: 'estimated',
      lagEstimate: 'upper-bound',
    });
  });

  it('reads a missing stream as a known, empty backlog', async () => {
    const stream = `${t.prefix}never-created`;
    expect(await source.read(stream, GROUP)).toEqual({
      readOk: true,
      lag: 0,
      pending: 0,
      backlog: 0,
      lagSource: 'xinfo',
      streamState: 'missing-stream',
      consumers: [],
    });
  });

  it('counts the whole stream as waiting when the group does not exist yet', async () => {
    const stream = await newStream(false);
    await add(stream, 4);
    expect(await source.read(stream, GROUP)).toMatchObject({
      readOk: true,
      lag: 4,
      pending: 0,
      lagSource: 'estimated',
      lagEstimate: 'stream-length',
      streamState: 'missing-group',
      consumers: [],
    });
  });

  it('reports per-consumer pending and idle time', async () => {
    const stream = await newStream();
    await add(stream, 4);
    const a = await deliver(stream, 'pod-a', 2);
    await deliver(stream, 'pod-b', 1);
    await redis.xack(stream, GROUP, a[0]!);
    const reading = await source.read(stream, GROUP);
    expect(reading).toMatchObject({ lag: 1, pending: 2 });
    const byName = (r: typeof reading) =>
      Object.fromEntries((r.readOk ? (r.consumers ?? []) : []).map((c) => [c.name, c.pending]));
    expect(byName(reading)).toEqual({ 'pod-a': 1, 'pod-b': 1 });
    const listed = await source.consumers(stream, GROUP);
    expect(listed.readOk).toBe(true);
    if (!listed.readOk) return;
    expect(listed.consumers.map((c) => c.name).sort()).toEqual(['pod-a', 'pod-b']);
    for (const c of listed.consumers) expect(c.idleMs).toBeGreaterThanOrEqual(0);
    expect(await source.consumers(`${t.prefix}nope`, GROUP)).toEqual({
      readOk: true,
      streamState: 'missing-stream',
      consumers: [],
    });
  });

  it('removes a consumer only when it has nothing pending', async () => {
    const stream = await newStream();
    await add(stream, 2);
    const held = await deliver(stream, 'pod-gone', 2);
    expect(await source.removeConsumer(stream, GROUP, 'pod-gone')).toEqual({
      outcome: 'refused',
      pending: 2,
    });
    const still = await source.consumers(stream, GROUP);
    expect(still.readOk && still.consumers.map((c) => c.name)).toEqual(['pod-gone']);
    await redis.xack(stream, GROUP, ...held);
    expect(await source.removeConsumer(stream, GROUP, 'pod-gone')).toEqual({ outcome: 'removed' });
    const after = await source.consumers(stream, GROUP);
    expect(after.readOk && after.consumers).toEqual([]);
    expect(await source.removeConsumer(stream, GROUP, 'pod-gone')).toEqual({
      outcome: 'not-found',
    });
    expect(await source.removeConsumer(stream, 'no-group', 'x')).toEqual({ outcome: 'not-found' });
    expect(await source.removeConsumer(`${t.prefix}nope`, GROUP, 'x')).toEqual({
      outcome: 'not-found',
    });
  });

  it('fails a read of a key that is not a stream with WrongType', async () => {
    const key = `${t.prefix}plain`;
    await redis.set(key, 'x');
    expect(await source.read(key, GROUP)).toMatchObject({
      readOk: false,
      lagSource: 'unknown',
      backlog: undefined,
      error: { code: 'WrongType' },
    });
  });

  it('feeds the scaler as is', async () => {
    const stream = await newStream();
    await add(stream, 250);
    const reading = await source.read(stream, GROUP);
    const spec = {
      minReplicas: 0,
      maxReplicas: 10,
      targetBacklogPerReplica: 100,
      activationBacklog: 1,
      pollIntervalSeconds: 5,
      scaleDownStabilizationSeconds: 120,
      scaleToZeroCooldownSeconds: 300,
    };
    const decision = decide({ ...reading, currentReplicas: 0 }, EMPTY_HISTORY, spec, Date.now());
    expect(decision).toMatchObject({ desiredReplicas: 3, reason: 'WakeFromZero' });
  });
});

describe('RedisBacklogSource without Redis', () => {
  it('reports an unreachable Redis quickly, without throwing', async () => {
    const port = await freePort(); // free, so nothing listens there
    const dead = createBacklogRedis(`redis://127.0.0.1:${port}`);
    try {
      const unreachable = new RedisBacklogSource(dead, { timeoutMs: 5000 });
      const started = Date.now();
      const reading = await unreachable.read('s', GROUP);
      expect(Date.now() - started).toBeLessThan(3000);
      expect(reading).toMatchObject({
        readOk: false,
        lag: undefined,
        pending: undefined,
        lagSource: 'unknown',
        error: { code: 'RedisUnavailable' },
      });
      // The cause, not the client library's retry wording.
      expect(reading.error?.message).toContain('connection refused');
      expect(reading.error?.message).toContain(`ECONNREFUSED 127.0.0.1:${port}`);
      expect(reading.error?.message).not.toContain('maxRetriesPerRequest');
      expect(await unreachable.consumers('s', GROUP)).toMatchObject({ readOk: false });
      expect(await unreachable.removeConsumer('s', GROUP, 'x')).toMatchObject({
        outcome: 'failed',
      });
    } finally {
      dead.disconnect();
    }
  });

  it('names refused credentials and missing permissions', async () => {
    const user = `${t.prefix.replace(/[^a-z0-9]/gi, '')}reader`;
    const stream = await newStream();
    // A user that may connect but not run XINFO, to see NOPERM.
    await redis.acl('SETUSER', user, 'on', '>right', '~*', '+@all', '-xinfo');
    const { port } = redis.options;
    const wrong = createBacklogRedis(`redis://${user}:wrong@127.0.0.1:${port}`);
    const denied = createBacklogRedis(`redis://${user}:right@127.0.0.1:${port}`);
    try {
      expect(await new RedisBacklogSource(wrong).read(stream, GROUP)).toMatchObject({
        readOk: false,
        error: { code: 'AuthenticationFailed', message: expect.stringContaining('WRONGPASS') },
      });
      expect(await new RedisBacklogSource(denied).read(stream, GROUP)).toMatchObject({
        readOk: false,
        error: { code: 'PermissionDenied', message: expect.stringContaining('NOPERM') },
      });
    } finally {
      wrong.disconnect();
      denied.disconnect();
      await redis.acl('DELUSER', user);
    }
  });

  it('gives up on a Redis that accepts connections but never answers', async () => {
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as net.AddressInfo;
    const hung = createBacklogRedis(`redis://127.0.0.1:${port}`);
    try {
      const started = Date.now();
      const reading = await new RedisBacklogSource(hung, { timeoutMs: 300 }).read('s', GROUP);
      expect(Date.now() - started).toBeLessThan(2000);
      expect(reading).toMatchObject({ readOk: false, error: { code: 'Timeout' } });
    } finally {
      hung.disconnect();
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});
