import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../core/logger.js';
import { sampleValue } from '../../test/support/metrics.js';
import type { DeliveryOutcome } from '../runtime/delivery-handler.js';
import { WorkerMetrics } from './metrics.js';

function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { lines, stream };
}

const notice = { tenant: 'acme', executionId: 'T-1', eventId: 'e-1' };

describe('worker logs', () => {
  it('put the event, its execution, its tenant and the worker on the top level of a line', () => {
    const { lines, stream } = capture();
    const logger = createLogger('info', { component: 'worker', workerId: 'pod-1' }, stream);
    logger.warn({ notice, deliveries: 3 }, 'notice dead-lettered');
    logger.info({ resent: 2 }, 'relay resent notices');
    expect(lines[0]).toMatchObject({ ...notice, workerId: 'pod-1', deliveries: 3, level: 40 });
    expect(lines[0]).not.toHaveProperty('notice');
    expect(lines[1]).toMatchObject({ resent: 2, workerId: 'pod-1' });
    expect(lines[1]).not.toHaveProperty('tenant');
  });
});

describe('worker metrics', () => {
  it('count events by result and deliveries by outcome, on a registry of their own', async () => {
    let held = 3;
    const metrics = new WorkerMetrics(() => held, false);
    const other = new WorkerMetrics(() => 0, false);
    const done = (applied: number, rejected: number): DeliveryOutcome => ({
      kind: 'done',
      notice,
      result: {
        applied,
        rejected,
        eventsReplayed: 0,
        actionsRun: 0,
        blocked: false,
        outcomes: [],
      },
    });
    metrics.recordOutcome(done(3, 1), 12);
    metrics.recordOutcome(done(0, 0), 2);
    metrics.recordOutcome({ kind: 'busy', notice }, 1);
    metrics.recordOutcome({ kind: 'retry', notice, counted: true, error: 'x', deliveries: 1 }, 5);
    metrics.recordOutcome({ kind: 'dead', notice, error: 'x' }, 5);
    metrics.recordRepublished(4);
    metrics.recordStreamError('read');
    held = 5;
    const { body, contentType } = await metrics.render();
    expect(contentType).toContain('text/plain');
    const value = (name: string, labels?: Record<string, string>) =>
      sampleValue(body, name, labels);
    expect(value('flowpool_events_processed_total', { result: 'applied' })).toBe(3);
    expect(value('flowpool_events_processed_total', { result: 'rejected' })).toBe(1);
    expect(value('flowpool_events_processed_total', { result: 'noop' })).toBe(1);
    expect(value('flowpool_events_processed_total', { result: 'busy' })).toBe(1);
    expect(value('flowpool_events_processed_total', { result: 'retry' })).toBe(1);
    expect(value('flowpool_events_processed_total', { result: 'dead' })).toBe(1);
    expect(value('flowpool_lock_contention_total')).toBe(1);
    expect(value('flowpool_dead_lettered_total')).toBe(1);
    expect(value('flowpool_relay_republished_total')).toBe(4);
    expect(value('flowpool_stream_errors_total', { where: 'read' })).toBe(1);
    expect(value('flowpool_in_flight')).toBe(5);
    expect(value('flowpool_processing_duration_seconds_count', { outcome: 'done' })).toBe(2);
    const untouched = (await other.render()).body;
    expect(sampleValue(untouched, 'flowpool_events_processed_total', { result: 'applied' })).toBe(
      0,
    );
  });
});
