import { describe, expect, it } from 'vitest';
import { sharedReading } from './shared-reading.js';

describe('sharedReading', () => {
  it('shares one reading, in flight or done, until it is maxAgeMs old', async () => {
    let clock = 1_000;
    let reads = 0;
    let release: () => void = () => {};
    const read = sharedReading(
      () => {
        reads++;
        return new Promise<number>((resolve) => {
          release = () => resolve(reads);
        });
      },
      1_000,
      () => clock,
    );
    const first = read();
    const second = read();
    release();
    expect(await first).toBe(1);
    expect(await second).toBe(1);
    clock += 999;
    expect(await read()).toBe(1);
    clock += 1;
    const third = read();
    release();
    expect(await third).toBe(2);
    expect(reads).toBe(2);
  });

  it('does not keep a reading that failed', async () => {
    let reads = 0;
    const read = sharedReading(
      async () => {
        reads++;
        if (reads === 1) throw new Error('no answer');
        return reads;
      },
      60_000,
      () => 0,
    );
    await expect(read()).rejects.toThrow('no answer');
    expect(await read()).toBe(2);
  });
});
