import { performance } from 'node:perf_hooks';
import { sleep } from '../../core/timing.js';
import type { Clock } from './types.js';

/** The process's clocks: performance.now() for durations, Date for the wall clock. */
export const systemClock: Clock = {
  now: () => performance.now(),
  date: () => new Date(),
  sleep,
};
