/** Where the lag figure came from; `unknown` never counts as a backlog of zero. */
export type LagSource = 'xinfo' | 'estimated' | 'unknown';

/** What the operator (or the local mode) observed at one poll. */
export interface ScalerMetrics {
  /** Replicas the target runs now (the Deployment's spec.replicas, or local processes). */
  currentReplicas: number;
  /** lag + pending; used only when lag or pending is missing. */
  backlog?: number | undefined;
  /** Entries not yet delivered to the group. */
  lag: number | undefined;
  /** Entries delivered but not yet acknowledged. */
  pending: number | undefined;
  lagSource: LagSource;
  /** False when Redis could not be read at all. */
  readOk: boolean;
  /** Entries added to the stream per second, if observed. */
  arrivalRate?: number | undefined;
  /** Entries one replica processes per second, if known (measured or assumed: see capacitySource). */
  processingRatePerReplica?: number | undefined;
  /** Where processingRatePerReplica came from, for messages. */
  capacitySource?: CapacitySource | undefined;
  /**
   * The stream's entries-added counter (XINFO STREAM, Redis >= 7): any change
   * between polls means events arrived, which keeps a pool from going to zero.
   */
  entriesAdded?: number | undefined;
}

/**
 * How the per-replica capacity was found: measured while the pool was
 * saturated, estimated from occupancy (Little's law: throughput and pending
 * entries against the worker's concurrency), or a conservative prior used
 * only until either exists.
 */
export type CapacitySource = 'saturated' | 'occupancy' | 'prior';

/** The autoscaling fields of a WorkflowWorkerPool, plus the scaler's own knobs. */
export interface ScalerSpec {
  minReplicas: number;
  maxReplicas: number;
  targetBacklogPerReplica: number;
  activationBacklog: number;
  pollIntervalSeconds: number;
  scaleDownStabilizationSeconds: number;
  scaleToZeroCooldownSeconds: number;
  /** Relative change ignored to avoid flapping; 0.1 (like the HPA) when absent. */
  tolerance?: number | undefined;
  /** spec.paused: the scaler leaves the replica count alone. */
  paused?: boolean | undefined;
  /** autoscaling.enabled; when false the pool runs `replicas`. */
  enabled?: boolean | undefined;
  /** spec.replicas, used when autoscaling is disabled. */
  replicas?: number | undefined;
}

/** One past recommendation (before stabilization), at a ms timestamp. */
export interface Recommendation {
  readonly at: number;
  readonly replicas: number;
}

/** What the scaler remembers between polls. Immutable: every call returns a new one. */
export interface ScalerHistory {
  /** Recommendations still inside the stabilization window, oldest first. */
  readonly recommendations: readonly Recommendation[];
  /**
   * Start of the current unbroken run of quiet observations: a backlog known
   * to be zero and no event arrived since the previous one.
   */
  readonly zeroSince: number | undefined;
  /** The stream's entries-added counter at the last readable observation. */
  readonly lastEntriesAdded: number | undefined;
  /** Start of the current unbroken run of polls that each produced a recommendation. */
  readonly observedSince: number | undefined;
  /** Time of the last observation, readable or not. */
  readonly lastObservedAt: number | undefined;
}

export type ScaleReason =
  | 'ScaleUp'
  | 'ScaleDown'
  | 'Stabilizing'
  | 'ScaleToZero'
  | 'ZeroCooldown'
  | 'WakeFromZero'
  | 'BelowActivation'
  | 'HoldRedisUnavailable'
  | 'HoldUnknownLag'
  | 'WithinTolerance'
  | 'AtMax'
  | 'AtMin'
  | 'Steady'
  | 'Paused'
  | 'ManualReplicas';

export interface Decision {
  desiredReplicas: number;
  /** A short, stable code (goes to status.lastScaleReason and the Scaling condition). */
  reason: ScaleReason;
  /** For people: the numbers behind the decision. */
  message: string;
  /** The history to pass to the next call. */
  history: ScalerHistory;
  /** The recommendation recorded for this poll, before stabilization; undefined when none was. */
  recommendation: number | undefined;
  /** The backlog the decision used; undefined when it was not known. */
  backlog: number | undefined;
}
