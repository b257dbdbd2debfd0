/**
 * A mutual-exclusion lock per execution. It only keeps two workers from doing
 * the same work at once; correctness never depends on it, because commits are
 * fenced in the database (see ApplyStore.commitBatch).
 */
export interface Lease {
  /** Aborted when the lock could not be extended and may now be held by someone else. */
  readonly signal: AbortSignal;
}

export interface ExecutionLock {
  /**
   * Runs `work` while holding the lock on `resource`, extending it while the
   * work runs. Throws LockBusyError when another holder keeps it.
   */
  withLock<T>(resource: string, work: (lease: Lease) => Promise<T>): Promise<T>;
}
