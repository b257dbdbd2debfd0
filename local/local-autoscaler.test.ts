/**
 * The local mode's scaling loop on a real Redis, stepped on simulated time:
 * the same policy as the operator, fed from the same stream counters.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisBacklogSource } from '../stream/backlog/redis-backlog-source.js';
import { type TestRedis, testRedis } from '../test/support/isolation.js';
import { devScalerSpec } from './dev.js';
import { LocalAutoscaler } from './local-autoscaler.js';
import type { ScaleTarget } from './local-worker-pool.js';

const GROUP = 'workflow-workers';

/** Replicas as a number: what the autoscaler asks for is at once running and ready. */
class CountingTarget implements ScaleTarget {
  replicas = 0;
  async readyCount(): Promise<number> {
    return this.replicas;
  }
  async scaleTo(replicas: number): Promise<void> {
    this.replicas = replicas;
  }
}

let redis: TestRedis;
beforeAll(async () => {
  redis = await testRedis();
});
afterAll(async () => {
  await redis?.close();
});

/** Delivers and acknowledges everything waiting, as a worker that keeps up would. */
async function drain(stream: string): Promise<void> {
  const read = (await redis.redis.xreadgroup(
    'GROUP',
    GROUP,
    'w',
    'COUNT',
    1000,
    'STREAMS',
    stream,
    '>',
  )) as Array<[string, Array<[string, string[]]>]> | null;
  const ids = read?.[0]?.[1].map(([id]) => id) ?? [];
  if (ids.length > 0) await redis.redis.xack(stream, GROUP, ...ids);
}

describe('local autoscaler', () => {
  it('keeps a worker while a trickle arrives and reaches zero once it stops', async () => {
    const stream = `${redis.prefix}workflow:events:global`;
    await redis.redis.xgroup('CREATE', stream, GROUP, '0', 'MKSTREAM');
    const spec = devScalerSpec(4);
    let now = Date.UTC(2026, 0, 1);
    const target = new CountingTarget();
    const autoscaler = new LocalAutoscaler({
      source: new RedisBacklogSource(redis.redis, { includeConsumers: true }),
      stream,
      group: GROUP,
      spec,
      concurrency: 8,
      target,
      now: () => now,
    });
    const pollMs = spec.pollIntervalSeconds * 1000;
    const cooldownMs = spec.scaleToZeroCooldownSeconds * 1000;

    // A first event wakes the pool.
    await redis.redis.xadd(stream, '*', 'n', 'first');
    await autoscaler.tick();
    expect(target.replicas).toBeGreaterThan(0);

    // Three cooldowns of one event a poll, each applied before the next poll:
    // the backlog reads 0 at every poll.
    const trickle: number[] = [];
    for (let t = 0; t < 3 * cooldownMs; t += pollMs) {
      await redis.redis.xadd(stream, '*', 'n', String(t));
      await drain(stream);
      now += pollMs;
      const sample = await autoscaler.tick();
      expect(sample.backlog).toBe(0);
      trickle.push(target.replicas);
    }
    expect(trickle.filter((replicas) => replicas === 0)).toEqual([]);

    // Nothing arrives any more: zero after the cooldown, not before.
    const stoppedAt = now;
    let zeroAt: number | undefined;
    for (let i = 0; i < 60 && zeroAt === undefined; i++) {
      now += pollMs;
      const sample = await autoscaler.tick();
      if (target.replicas === 0) {
        zeroAt = now;
        expect(sample.reason).toBe('ScaleToZero');
      }
    }
    expect(zeroAt).toBeDefined();
    expect(zeroAt! - stoppedAt).toBeGreaterThanOrEqual(cooldownMs);
  });
});
