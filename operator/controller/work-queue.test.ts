import { describe, expect, it } from 'vitest';
import { WorkQueue } from './work-queue.js';

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

async function until(check: () => boolean, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

describe('WorkQueue', () => {
  it('queues a key once however often it is added, in order of first add', async () => {
    const queue = new WorkQueue();
    queue.add('a');
    queue.add('b');
    queue.add('a');
    queue.add('b');
    expect(queue.length).toBe(2);
    expect(await queue.get()).toBe('a');
    expect(await queue.get()).toBe('b');
    expect(queue.length).toBe(0);
  });

  it('never hands one key to two workers; a key added while processed runs again after', async () => {
    const queue = new WorkQueue();
    let running = 0;
    let most = 0;
    let runs = 0;
    const gate = deferred();
    const worked = queue.run(4, async () => {
      running++;
      most = Math.max(most, running);
      runs++;
      if (runs === 1) await gate.promise;
      running--;
    });
    queue.add('k');
    await until(() => runs === 1);
    // Added three times while the first run is still going.
    queue.add('k');
    queue.add('k');
    queue.add('k');
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(runs).toBe(1);
    gate.resolve();
    await until(() => runs === 2);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(runs).toBe(2);
    expect(most).toBe(1);
    queue.shutdown();
    await worked;
  });

  it('processes different keys at once', async () => {
    const queue = new WorkQueue();
    let running = 0;
    let most = 0;
    const gate = deferred();
    const worked = queue.run(3, async () => {
      running++;
      most = Math.max(most, running);
      await gate.promise;
      running--;
    });
    for (const key of ['a', 'b', 'c']) queue.add(key);
    await until(() => running === 3);
    gate.resolve();
    await until(() => running === 0);
    expect(most).toBe(3);
    queue.shutdown();
    await worked;
  });

  it('retries a failing key with exponential backoff and forgets the failures after a success', async () => {
    const queue = new WorkQueue({ baseDelayMs: 20, maxDelayMs: 1_000, jitter: 0 });
    const attempts: number[] = [];
    const delays: number[] = [];
    const worked = queue.run(
      1,
      async () => {
        attempts.push(Date.now());
        if (attempts.length <= 3) throw new Error('not yet');
      },
      (_key, _error, retryInMs) => delays.push(retryInMs),
    );
    queue.add('k');
    await until(() => attempts.length === 4);
    expect(delays).toEqual([20, 40, 80]);
    for (let i = 1; i < attempts.length; i++) {
      expect(attempts[i]! - attempts[i - 1]!).toBeGreaterThanOrEqual(delays[i - 1]! - 5);
    }
    expect(queue.failureCount('k')).toBe(0);
    queue.shutdown();
    await worked;
  });

  it('spreads backoff by the jitter and caps it', () => {
    const low = new WorkQueue({
      baseDelayMs: 100,
      maxDelayMs: 1_000,
      jitter: 0.5,
      random: () => 0,
    });
    const high = new WorkQueue({
      baseDelayMs: 100,
      maxDelayMs: 1_000,
      jitter: 0.5,
      random: () => 1,
    });
    expect(low.addRateLimited('k')).toBe(50);
    expect(high.addRateLimited('k')).toBe(150);
    for (let i = 0; i < 10; i++) high.addRateLimited('k');
    expect(high.addRateLimited('k')).toBe(1_000);
    expect(high.failureCount('k')).toBe(12);
    high.forget('k');
    expect(high.failureCount('k')).toBe(0);
    low.shutdown();
    high.shutdown();
  });

  it('keeps the earliest of two delayed adds', async () => {
    const queue = new WorkQueue();
    queue.addAfter('k', 10_000);
    queue.addAfter('k', 10);
    await until(() => queue.length === 1);
    expect(await queue.get()).toBe('k');
    queue.shutdown();
  });

  it('requeues when the handler asks to, and stops on shutdown', async () => {
    const queue = new WorkQueue();
    let runs = 0;
    const worked = queue.run(2, async () => {
      runs++;
      return runs < 3 ? { requeueAfterMs: 5 } : undefined;
    });
    queue.add('k');
    await until(() => runs === 3);
    queue.shutdown();
    await worked;
    queue.add('k');
    expect(queue.length).toBe(0);
    expect(await queue.get()).toBeUndefined();
  });
});
