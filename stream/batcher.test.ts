import { describe, expect, it } from 'vitest';
import { GroupBatcher, type Settled } from './batcher.js';

/** A flush that records what it carried and finishes only when released. */
function recordingFlush() {
  const flushes: Array<{ items: string[]; release: () => void }> = [];
  let running = 0;
  let mostAtOnce = 0;
  const flush = (items: string[]) =>
    new Promise<Array<Settled<string>>>((resolve) => {
      running += 1;
      mostAtOnce = Math.max(mostAtOnce, running);
      flushes.push({
        items,
        release: () => {
          running -= 1;
          resolve(items.map((item) => ({ ok: true, value: `done ${item}` })));
        },
      });
    });
  return { flushes, flush, mostAtOnce: () => mostAtOnce };
}

async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setImmediate(resolve));
}

describe('the group batcher', () => {
  it('sends an idle call at once and groups the calls that wait behind it', async () => {
    const { flushes, flush } = recordingFlush();
    const batcher = new GroupBatcher(flush);
    const first = batcher.add('a');
    expect(flushes.map((f) => f.items)).toEqual([['a']]);
    const rest = ['b', 'c', 'd'].map((item) => batcher.add(item));
    flushes[0]!.release();
    expect(await first).toBe('done a');
    await until(() => flushes.length === 2);
    expect(flushes[1]!.items).toEqual(['b', 'c', 'd']);
    flushes[1]!.release();
    expect(await Promise.all(rest)).toEqual(['done b', 'done c', 'done d']);
  });

  it('runs two flushes at once, never two with the same key, and keeps each key in order', async () => {
    const { flushes, flush, mostAtOnce } = recordingFlush();
    const batcher = new GroupBatcher(flush, {
      maxInFlight: 2,
      keyOf: (item: string) => item.slice(0, 1),
    });
    const done = ['x1', 'y1', 'x2', 'z1', 'x3', 'y2'].map((item) => batcher.add(item));
    await until(() => flushes.length === 2);
    // With room for two, the first two calls go at once, each alone.
    expect(flushes.map((f) => f.items)).toEqual([['x1'], ['y1']]);
    flushes[0]!.release();
    await until(() => flushes.length === 3);
    // y is still in flight: its later call waits; the rest go in order.
    expect(flushes[2]!.items).toEqual(['x2', 'z1', 'x3']);
    flushes[1]!.release();
    await until(() => flushes.length === 4);
    expect(flushes[3]!.items).toEqual(['y2']);
    flushes[2]!.release();
    flushes[3]!.release();
    expect(await Promise.all(done)).toHaveLength(6);
    expect(mostAtOnce()).toBe(2);
  });

  it('fails every item of a flush that throws, and carries on with the next', async () => {
    let calls = 0;
    const batcher = new GroupBatcher<string, string>(async (items) => {
      calls += 1;
      if (calls === 1) throw new Error('down');
      return items.map((item) => ({ ok: true, value: item }));
    });
    await expect(batcher.add('a')).rejects.toThrow('down');
    expect(await batcher.addAll(['b', 'c'])).toEqual([
      { ok: true, value: 'b' },
      { ok: true, value: 'c' },
    ]);
  });
});
