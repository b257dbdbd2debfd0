/**
 * What a worker holds while it works on an execution (see batch-lock.ts).
 * The lock only keeps two workers from doing the same work at once;
 * correctness never depends on it, because commits are fenced in the
 * database (see ApplyStore.commitBatch).
 */
export interface Lease {
  /** Aborted when the lock could not be extended and may now be held by someone else. */
  readonly signal: AbortSignal;
}
