/**
 * One reading shared by every caller for `maxAgeMs`: the pool's backlog is
 * the same for all tenants, so however many consoles poll GET /v1/stream,
 * Redis answers at most one XINFO transaction per period per api process.
 * A reading still in flight is shared too; a failed one is not kept (the
 * reader reports failures in its result, so this only guards a throw).
 */
export function sharedReading<T>(
  read: () => Promise<T>,
  maxAgeMs: number,
  now: () => number = Date.now,
): () => Promise<T> {
  let last: { at: number; value: Promise<T> } | undefined;
  return () => {
    if (last !== undefined && now() - last.at < maxAgeMs) return last.value;
    const value = read();
    const entry = { at: now(), value };
    last = entry;
    value.catch(() => {
      if (last === entry) last = undefined;
    });
    return value;
  };
}
