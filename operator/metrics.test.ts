import { describe, expect, it } from 'vitest';
import { OperatorMetrics } from './metrics.js';

/** The series of pool ns/p, as `name value` lines. */
async function poolSeries(metrics: OperatorMetrics): Promise<string[]> {
  const text = (await metrics.render()).body;
  return text
    .split('\n')
    .filter((line) => line.includes('namespace="ns",pool="p"'))
    .map((line) => line.replace('{namespace="ns",pool="p"}', ''));
}

const known = { backlog: 45, streamReachable: true, arrivalRate: 2.5, processingRatePerReplica: 1 };

describe('OperatorMetrics', () => {
  it('records what a poll read and when a poll ended', async () => {
    const metrics = new OperatorMetrics(false);
    metrics.recordPoolReading('ns', 'p', known);
    metrics.recordPollEnd('ns', 'p', 1_700_000_000_500);
    expect(await poolSeries(metrics)).toEqual([
      'flowpool_operator_pool_backlog 45',
      'flowpool_operator_pool_arrival_rate 2.5',
      'flowpool_operator_pool_processing_rate_per_replica 1',
      'flowpool_operator_pool_stream_reachable 1',
      'flowpool_operator_pool_last_poll_timestamp_seconds 1700000000.5',
    ]);
  });

  it('drops a figure that became unknown instead of repeating the last one', async () => {
    const metrics = new OperatorMetrics(false);
    metrics.recordPoolReading('ns', 'p', known);
    // Redis went away: no backlog, and too few readings for the rates.
    metrics.recordPoolReading('ns', 'p', {
      backlog: undefined,
      streamReachable: false,
      arrivalRate: undefined,
      processingRatePerReplica: undefined,
    });
    expect(await poolSeries(metrics)).toEqual(['flowpool_operator_pool_stream_reachable 0']);
  });

  it('drops the desired replicas of a paused pool and keeps the ones it has', async () => {
    const metrics = new OperatorMetrics(false);
    metrics.recordPoolReplicas('ns', 'p', {
      desiredReplicas: 3,
      currentReplicas: 3,
      readyReplicas: 2,
    });
    metrics.recordPoolReplicas('ns', 'p', {
      desiredReplicas: undefined,
      currentReplicas: 3,
      readyReplicas: 3,
    });
    expect(await poolSeries(metrics)).toEqual([
      'flowpool_operator_pool_current_replicas 3',
      'flowpool_operator_pool_ready_replicas 3',
    ]);
  });

  it('forgets every series of a pool, its scale counts and last poll included', async () => {
    const metrics = new OperatorMetrics(false);
    metrics.recordPoolReading('ns', 'p', known);
    metrics.recordPoolReplicas('ns', 'p', {
      desiredReplicas: 3,
      currentReplicas: 1,
      readyReplicas: 1,
    });
    metrics.recordPollEnd('ns', 'p', Date.now());
    metrics.recordScale('ns', 'p', 1, 3);
    metrics.forgetPool('ns', 'p');
    expect(await poolSeries(metrics)).toEqual([]);
  });
});
