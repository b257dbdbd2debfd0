export {
  type CapacityLimits,
  type CapacityObservation,
  type CapacityState,
  capacityPerReplica,
  NO_CAPACITY,
  observeCapacity,
} from './capacity.js';
export { decide } from './decide.js';
export {
  EMPTY_HISTORY,
  type HistoryLimits,
  type Observation,
  recordObservation,
  windowMax,
  windowObserved,
  zeroSustained,
} from './history.js';
export {
  addSample,
  type CounterSample,
  estimateRate,
  type RateEstimate,
  ratePerSecond,
} from './rate.js';
export {
  NO_RATE_HISTORY,
  observeRates,
  type RateHistory,
  type Rates,
  rateLimits,
  type StreamCounters,
} from './rates.js';
export { DEFAULT_TOLERANCE, normalizeSpec } from './spec.js';
export type {
  Decision,
  LagSource,
  Recommendation,
  ScaleReason,
  ScalerHistory,
  ScalerMetrics,
  ScalerSpec,
} from './types.js';
