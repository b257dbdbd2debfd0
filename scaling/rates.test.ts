import { describe, expect, it } from 'vitest';
import { MODELLED_SLOTS } from './occupancy.js';
import { NO_RATE_HISTORY, observeRates } from './rates.js';

/** Two polls a second apart, 50 entries added between them, nothing read yet. */
function priorFor(concurrency: number) {
  const counters = (added: number) => ({
    entriesAdded: added,
    entriesRead: 0,
    lag: added,
    pending: 0,
  });
  const workers = { replicas: 1, readyReplicas: 1, concurrency };
  const first = observeRates(NO_RATE_HISTORY, counters(0), workers, 0, 1_000);
  return observeRates(first.history, counters(50), workers, 1_000, 1_000).rates;
}

describe('the capacity prior', () => {
  it('stands in while events arrive and nothing is measured: 5 a second per slot', () => {
    expect(priorFor(4)).toMatchObject({ processingRatePerReplica: 20, capacitySource: 'prior' });
  });

  it('counts at most the modelled slots, so many slots do not make it bold', () => {
    expect(priorFor(64).processingRatePerReplica).toBe(5 * MODELLED_SLOTS);
  });
});
