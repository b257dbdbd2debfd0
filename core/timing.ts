/** Waiting with a bound: the one timeout race and the one abortable sleep every module uses. */

/**
 * Settles like `work`, or rejects once `ms` pass first: with
 * "<what> did not answer within <ms> ms", or with the caller's own error.
 * The work itself is not cancelled: it is left to finish or fail on its own,
 * and a failure after the timeout is dropped (nobody is left to tell).
 */
export async function withTimeout<T>(
  work: Promise<T>,
  ms: number,
  what: string | (() => Error),
): Promise<T> {
  const timeoutError = () =>
    typeof what === 'string' ? new Error(`${what} did not answer within ${ms} ms`) : what();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(timeoutError()), ms);
  });
  work.catch(() => {});
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Sleeps `ms`, or less when `signal` aborts first (then resolves early, never rejects). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) {
      resolve();
      return;
    }
    const timer = setTimeout(done, Math.max(0, ms));
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
