/**
 * What the operator needs of leader election: only the leader runs the
 * controllers. The Lease-based LeaderElector (operator/leader/) has this
 * shape; AlwaysLeader is for LEADER_ELECTION=false (one replica only).
 */

/** Runs while leading; `signal` aborts when leadership ends. */
export type LeadingWork = (signal: AbortSignal) => void | Promise<void>;

export interface LeaderElection {
  onStartedLeading(work: LeadingWork): unknown;
  onStoppedLeading(callback: () => void | Promise<void>): unknown;
  start(): void;
  stop(): Promise<void>;
  isLeader(): boolean;
}

/** Leads from start() to stop(), with no Lease: for a single operator replica. */
export class AlwaysLeader implements LeaderElection {
  private readonly work: LeadingWork[] = [];
  private readonly stopped: Array<() => void | Promise<void>> = [];
  private controller: AbortController | undefined;
  private running: Promise<unknown> | undefined;

  onStartedLeading(work: LeadingWork): this {
    this.work.push(work);
    return this;
  }

  onStoppedLeading(callback: () => void | Promise<void>): this {
    this.stopped.push(callback);
    return this;
  }

  start(): void {
    if (this.controller) return;
    const controller = new AbortController();
    this.controller = controller;
    this.running = Promise.allSettled(this.work.map(async (work) => work(controller.signal)));
  }

  async stop(): Promise<void> {
    const controller = this.controller;
    if (!controller || controller.signal.aborted) return;
    controller.abort();
    for (const callback of this.stopped) await callback();
    await this.running;
  }

  isLeader(): boolean {
    return this.controller !== undefined && !this.controller.signal.aborted;
  }
}

/** Resolves when `signal` aborts. */
export function aborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) =>
    signal.addEventListener('abort', () => resolve(), { once: true }),
  );
}
