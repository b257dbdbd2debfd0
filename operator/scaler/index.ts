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
  polls,
  reading,
  replicaChanges,
  type Scenario,
  type ScenarioStep,
  SIMULATION_EPOCH_MS,
  type StepMetrics,
  simulate,
  type TimelinePoint,
  UNREADABLE,
  unknownLag,
} from './simulate.js';
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
