import { describe, expect, it } from 'vitest';
import { sleep, withTimeout } from './timing.js';

const never = new Promise<never>(() => {});

describe('withTimeout', () => {
  it('settles like the work when it answers in time', async () => {
    await expect(withTimeout(Promise.resolve(7), 60_000, 'Redis')).resolves.toBe(7);
    await expect(
      withTimeout(Promise.reject(new Error('refused')), 60_000, 'Redis'),
    ).rejects.toThrow('refused');
  });

  it('names what did not answer, or rejects with the caller’s own error', async () => {
    await expect(withTimeout(never, 5, 'PostgreSQL')).rejects.toThrow(
      'PostgreSQL did not answer within 5 ms',
    );
    class Late extends Error {}
    await expect(withTimeout(never, 5, () => new Late('late'))).rejects.toBeInstanceOf(Late);
  });
});

describe('sleep', () => {
  it('ends early when its signal aborts, and at once when already aborted', async () => {
    const stop = new AbortController();
    const slept = sleep(3_600_000, stop.signal);
    stop.abort();
    await expect(slept).resolves.toBeUndefined();
    await expect(sleep(3_600_000, stop.signal)).resolves.toBeUndefined();
  });
});
