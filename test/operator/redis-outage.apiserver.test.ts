/**
 * Redis goes away under a running pool: the operator says so in
 * StreamReachable, holds the replicas it has, and picks up again when
 * Redis is back.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../local/process.js';
import { OperatorMetrics } from '../../operator/metrics.js';
import { type TestRedis, testRedis } from '../support/isolation.js';
import type { KubeApiServer } from '../support/kube-apiserver.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import {
  addEntries,
  condition,
  consumeAll,
  createPool,
  deploymentReplicas,
  eventsFor,
  poolManifest,
  simulateRollout,
  startController,
  startKube,
  type TestController,
  waitForPool,
  waitForReplicas,
} from './support.js';

const NS = 'outage';
const GROUP = 'workflow-workers';

let kube: KubeApiServer;
let redis: TestRedis;
let proxy: TcpProxy;
let operator: TestController;
const metrics = new OperatorMetrics(false);

beforeAll(async () => {
  [kube, redis] = await Promise.all([startKube(), testRedis()]);
  const target = new URL(redis.url);
  proxy = await TcpProxy.start({ host: target.hostname, port: Number(target.port) });
  operator = await startController(kube, NS, metrics);
});

afterAll(async () => {
  await operator?.stop();
  await proxy?.close();
  await redis?.close();
  await kube?.destroy();
});

async function unreadablePolls(): Promise<number> {
  const metric = await metrics.registry
    .getSingleMetric('flowpool_operator_backlog_polls_total')
    ?.get();
  return metric?.values.find((value) => value.labels.result === 'unreadable')?.value ?? 0;
}

/** The backlog the operator's metrics report for the pool; undefined when there is no series. */
async function backlogGauge(pool: string): Promise<number | undefined> {
  const metric = await metrics.registry.getSingleMetric('flowpool_operator_pool_backlog')?.get();
  return metric?.values.find((value) => value.labels.namespace === NS && value.labels.pool === pool)
    ?.value;
}

describe('Redis unreachable', () => {
  it('reports StreamReachable=False, holds the replicas, and recovers when Redis is back', async () => {
    const stream = `${redis.prefix}workflow:events:outage`;
    await redis.redis.xgroup('CREATE', stream, GROUP, '0', 'MKSTREAM');
    await createPool(kube, NS, poolManifest('outage', `redis://${proxy.address}`, stream));
    await addEntries(redis.redis, stream, 30);
    await waitForReplicas(kube, NS, 'outage', 3, 5_000);
    await simulateRollout(kube, NS, 'outage');

    await proxy.setMode('refuse');
    const down = await waitForPool(
      kube,
      NS,
      'outage',
      'StreamReachable=False',
      (pool) => condition(pool, 'StreamReachable')?.status === 'False',
    );
    expect(condition(down, 'StreamReachable')).toMatchObject({
      reason: 'RedisUnavailable',
      message: expect.stringContaining('holding 3 replicas'),
    });
    // The cause in plain words, not the client library's retry wording.
    const said = condition(down, 'StreamReachable')?.message ?? '';
    expect(said).toMatch(
      / at redis:\/\/127\.0\.0\.1:\d+\/?: cannot connect to Redis: (connection refused|connection reset|the server closed the connection) \(/,
    );
    expect(said).not.toContain('maxRetriesPerRequest');
    expect(condition(down, 'Scaling')).toMatchObject({
      status: 'False',
      reason: 'HoldRedisUnavailable',
    });
    // Figures that can no longer be vouched for are gone; the lag is unknown.
    expect(down.status?.lagSource).toBe('unknown');
    expect(down.status?.backlog).toBeUndefined();
    // Nor does the backlog gauge keep the last figure read (the poll that
    // found Redis gone updated the metrics before the status).
    expect(await backlogGauge('outage')).toBeUndefined();

    // The work is done meanwhile, but the operator cannot see that: it must hold.
    await consumeAll(redis.redis, stream, GROUP, 'worker');
    const before = await unreadablePolls();
    await expect
      .poll(unreadablePolls, { timeout: 15_000, interval: 100 })
      .toBeGreaterThanOrEqual(before + 4);
    expect(await deploymentReplicas(kube, NS, 'outage')).toBe(3);
    const warnings = (await eventsFor(kube, NS, 'outage')).filter(
      (event) => event.reason === 'StreamUnreachable',
    );
    // One Warning for the outage, not one per poll.
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.type).toBe('Warning');

    await proxy.setMode('forward');
    const back = await waitForPool(
      kube,
      NS,
      'outage',
      'StreamReachable=True',
      (pool) => condition(pool, 'StreamReachable')?.status === 'True',
    );
    expect(back.status?.backlog).toBe(0);
    expect(await backlogGauge('outage')).toBe(0);
    // Back in charge: the empty backlog scales the pool down after the window.
    await waitForReplicas(kube, NS, 'outage', 1, 10_000);
    // The Event is written just after the scale; wait for it rather than race it.
    let reasons: Array<string | undefined> = [];
    await waitFor('the ScaleDown and StreamReachable events', async () => {
      reasons = (await eventsFor(kube, NS, 'outage')).map((event) => event.reason);
      return reasons.includes('StreamReachable') && reasons.includes('ScaleDown');
    });
    expect(reasons).toEqual(expect.arrayContaining(['StreamReachable', 'ScaleDown']));
  });
});
