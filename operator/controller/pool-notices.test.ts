import pino from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { API_VERSION, KIND, type WorkflowWorkerPool, withDefaults } from '../api/pool.js';
import type { KubeEvent } from '../kube/types.js';
import { PoolNotices } from './pool-notices.js';

const pool = {
  apiVersion: API_VERSION,
  kind: KIND,
  metadata: { name: 'billing', namespace: 'apps', uid: 'u-1' },
  spec: withDefaults({ image: 'flowpool:0.1.0', redis: { url: 'redis://redis:6379' } }),
} as WorkflowWorkerPool;

function notices() {
  const events: KubeEvent[] = [];
  const kube = {
    emitEvent: async (event: KubeEvent) => {
      events.push(event);
    },
  };
  return { events, notices: new PoolNotices(kube, pino({ level: 'silent' })) };
}

const said = (events: KubeEvent[]) => events.map((e) => `${e.type} ${e.reason}`);

describe('PoolNotices', () => {
  it('warns once per episode, again when the cause changes or after it cleared', () => {
    const { events, notices: n } = notices();
    n.warn(pool, 'ApplyFailed', 'etcd is sad');
    n.warn(pool, 'ApplyFailed', 'etcd is sad');
    n.warn(pool, 'ApplyFailed', 'quota exceeded');
    expect(n.cleared('ApplyFailed')).toBe(true);
    expect(n.cleared('ApplyFailed')).toBe(false);
    n.warn(pool, 'ApplyFailed', 'quota exceeded');
    expect(said(events)).toEqual([
      'Warning ApplyFailed',
      'Warning ApplyFailed',
      'Warning ApplyFailed',
    ]);
    expect(events.map((e) => e.message)).toEqual([
      'etcd is sad',
      'quota exceeded',
      'quota exceeded',
    ]);
    expect(events[0]?.involvedObject).toMatchObject({ kind: KIND, name: 'billing', uid: 'u-1' });
  });

  it('logs and records error text cleaned of credentials', async () => {
    const lines: Record<string, unknown>[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
    const events: KubeEvent[] = [];
    const leaky = 'connect ECONNREFUSED redis://app:hunter2@redis:6379';
    const kube = {
      emitEvent: async (event: KubeEvent) => {
        events.push(event);
        throw new Error(`event rejected: ${leaky}`);
      },
    };
    new PoolNotices(kube, log).warn(pool, 'StreamUnreachable', leaky);
    await vi.waitFor(() => expect(lines).toHaveLength(2));
    expect(events.map((e) => e.message)).toEqual([expect.stringContaining('redis:6379')]);
    expect(lines[1]).toMatchObject({ err: expect.stringContaining('event rejected') });
    expect(JSON.stringify([events, lines])).not.toContain('hunter2');
  });

  it('reports a stream outage once per cause and its end once', () => {
    const { events, notices: n } = notices();
    const down = { kind: 'unreadable', reason: 'RedisUnavailable', message: 'refused' } as const;
    const read = {
      kind: 'read',
      reading: {
        readOk: true,
        lag: 0,
        pending: 0,
        backlog: 0,
        lagSource: 'xinfo',
        streamState: 'present',
      },
    } as const;
    n.stream(pool, read);
    n.stream(pool, down);
    n.stream(pool, { ...down, message: 'refused again' });
    n.stream(pool, { ...down, reason: 'Timeout', message: 'no answer' });
    n.stream(pool, read);
    n.stream(pool, read);
    expect(said(events)).toEqual([
      'Warning StreamUnreachable',
      'Warning StreamUnreachable',
      'Normal StreamReachable',
    ]);
  });
});
