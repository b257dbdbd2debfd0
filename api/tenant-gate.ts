/**
 * Requests in flight per tenant. A request past the tenant's concurrency
 * waits in a short line of its own (so one tenant's burst queues behind
 * itself, not in front of everyone at the database pool); a request that
 * finds the line full, or waits longer than `maxWaitMs`, is refused.
 */
export interface GateLimit {
  /** Requests at once; 0 means no bound. */
  concurrency: number;
  /** Requests that may wait for a slot. */
  queue: number;
}

export type Admission = { admitted: true; release: () => void } | { admitted: false };

interface Line {
  running: number;
  waiting: Array<(admitted: boolean) => void>;
}

export class TenantGate {
  private readonly lines = new Map<string, Line>();

  constructor(
    private readonly limitOf: (tenant: string) => GateLimit,
    private readonly maxWaitMs: number,
  ) {}

  async enter(tenant: string): Promise<Admission> {
    const limit = this.limitOf(tenant);
    if (limit.concurrency === 0) return { admitted: true, release: () => {} };
    const line = this.lines.get(tenant) ?? { running: 0, waiting: [] };
    this.lines.set(tenant, line);
    if (line.running < limit.concurrency) {
      line.running += 1;
      return { admitted: true, release: this.releaser(tenant, line) };
    }
    if (line.waiting.length >= limit.queue) return { admitted: false };
    const admitted = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        const index = line.waiting.indexOf(settle);
        if (index >= 0) line.waiting.splice(index, 1);
        resolve(false);
      }, this.maxWaitMs);
      const settle = (ok: boolean) => {
        clearTimeout(timer);
        resolve(ok);
      };
      line.waiting.push(settle);
    });
    // A slot handed over by release() is already counted in `running`.
    return admitted
      ? { admitted: true, release: this.releaser(tenant, line) }
      : { admitted: false };
  }

  private releaser(tenant: string, line: Line): () => void {
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      const next = line.waiting.shift();
      if (next) {
        next(true);
        return;
      }
      line.running -= 1;
      if (line.running === 0 && line.waiting.length === 0) this.lines.delete(tenant);
    };
  }
}
