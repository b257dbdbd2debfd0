import { describe, expect, it } from 'vitest';
import { BacklogError } from './errors.js';
import { lagFromCount, lagUpperBound, reportedLag } from './estimate.js';
import {
  type GroupInfo,
  parseConsumers,
  parseGroups,
  parseStream,
  type StreamInfo,
} from './xinfo.js';

const group = (over: Partial<GroupInfo> = {}): GroupInfo => ({
  name: 'g',
  consumers: 1,
  pending: 2,
  lastDeliveredId: '5-0',
  entriesRead: 5,
  lag: 3,
  ...over,
});
const stream = (over: Partial<StreamInfo> = {}): StreamInfo => ({
  length: 8,
  lastGeneratedId: '8-0',
  entriesAdded: 8,
  ...over,
});

describe('XINFO replies', () => {
  it('reads a group, with a nil lag as undefined', () => {
    const reply = [
      [
        'name',
        'g',
        'consumers',
        1,
        'pending',
        2,
        'last-delivered-id',
        '5-0',
        'entries-read',
        5,
        'lag',
        null,
      ],
    ];
    expect(parseGroups(reply)).toEqual([group({ lag: undefined })]);
  });

  it('reads a reply from before Redis 7 (no lag, no entries-read)', () => {
    const reply = [['name', 'g', 'consumers', 0, 'pending', 0, 'last-delivered-id', '0-0']];
    expect(parseGroups(reply)[0]).toMatchObject({ lag: undefined, entriesRead: undefined });
  });

  it('reads a stream and its consumers; ignores fields it does not know', () => {
    const reply = [
      'length',
      8,
      'radix-tree-keys',
      1,
      'last-generated-id',
      '8-0',
      'entries-added',
      8,
    ];
    expect(parseStream(reply)).toEqual(stream());
    const consumers = [
      ['name', 'a', 'pending', 1, 'idle', 50, 'inactive', -1],
      ['name', 'b', 'pending', 0, 'idle', 7],
    ];
    expect(parseConsumers(consumers)).toEqual([
      { name: 'a', pending: 1, idleMs: 50, inactiveMs: undefined },
      { name: 'b', pending: 0, idleMs: 7, inactiveMs: undefined },
    ]);
  });

  it('rejects what it cannot read with a stable code', () => {
    for (const bad of ['OK', [['name']], [['name', 'g', 'pending', 'many']]]) {
      const attempt = () => parseGroups(bad);
      expect(attempt).toThrow(BacklogError);
      try {
        attempt();
      } catch (error) {
        expect((error as BacklogError).code).toBe('UnexpectedReply');
      }
    }
  });
});

describe('lag estimate', () => {
  it("takes Redis's lag unless it is nil or larger than the stream", () => {
    expect(reportedLag(group(), stream())).toBe(3);
    expect(reportedLag(group({ lag: 0 }), stream())).toBe(0);
    expect(reportedLag(group({ lag: undefined }), stream())).toBeUndefined();
    expect(reportedLag(group({ lag: 4 }), stream({ length: 2 }))).toBeUndefined();
  });

  it('bounds the lag by the stream length and the read counter', () => {
    expect(lagUpperBound(group(), stream())).toBe(3);
    expect(lagUpperBound(group(), stream({ length: 2 }))).toBe(2);
    expect(lagUpperBound(group({ entriesRead: undefined }), stream())).toBe(8);
    expect(lagUpperBound(group(), stream({ entriesAdded: undefined }))).toBe(8);
  });

  it('is exact below the count limit and the upper bound at it', () => {
    expect(lagFromCount(0, 100, 50)).toEqual({ lag: 0, how: 'counted' });
    expect(lagFromCount(7, 100, 50)).toEqual({ lag: 7, how: 'counted' });
    expect(lagFromCount(100, 100, 5000)).toEqual({ lag: 5000, how: 'upper-bound' });
    expect(lagFromCount(100, 100, 20)).toEqual({ lag: 100, how: 'upper-bound' });
  });
});
