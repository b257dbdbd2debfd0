import { sleep } from './timing.js';

/** Time, behind an interface so policies and retries can run on simulated time in tests. */
export interface Clock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep,
};
