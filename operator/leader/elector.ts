import type { KubeConfig } from '@kubernetes/client-node';
import { logText } from '../../core/error-record.js';
import { systemClock } from './clock.js';
import { KubernetesLeaseClient } from './kubernetes-lease-client.js';
import {
  holderRecord,
  type LeaseObservation,
  observe,
  planAttempt,
  releasedRecord,
} from './lease-rules.js';
import {
  type Clock,
  type LeaderLogger,
  type LeaderState,
  type LeaseClient,
  LeaseConflictError,
  type StoredLease,
} from './types.js';

export interface LeaderElectorOptions {
  /** Where the Lease lives. Needed unless `leaseClient` is given. */
  kubeConfig?: KubeConfig;
  namespace: string;
  /** The Lease's name; every replica that competes uses the same one. */
  name: string;
  /** This replica's name in the Lease (e.g. the Pod name); unique among the competitors. */
  identity: string;
  /**
   * How long others wait, after they last saw the Lease change, before they
   * take it over. Written to the Lease in whole seconds, rounded up.
   */
  leaseDurationMs?: number;
  /**
   * How long a leader keeps leading while its renewals fail. Must be shorter
   * than the lease duration, so it stops before anyone else can start.
   */
  renewDeadlineMs?: number;
  /** How often the leader renews, and how often a candidate tries to acquire. */
  retryPeriodMs?: number;
  /** Candidates wait retryPeriodMs × (1 + random × retryJitter) between tries. Default 0.2. */
  retryJitter?: number;
  /**
   * How long stop() waits for the leading work to finish after its signal
   * aborted. If it finishes, the lease is released; if not, it is left to
   * expire, so no successor starts while the work may still be running.
   * Default: renewDeadlineMs.
   */
  workStopTimeoutMs?: number;
  logger?: LeaderLogger;
  clock?: Clock;
  /** Another Lease store (tests, or a preconfigured client); replaces kubeConfig. */
  leaseClient?: LeaseClient;
  /** Field manager for writes through kubeConfig. */
  fieldManager?: string;
  /**
   * Create the Lease when it does not exist (default true). False when
   * someone else owns its life, e.g. the Helm chart, which creates it empty
   * and deletes it on uninstall: a replica still running then must not
   * bring it back, so a missing Lease is a failed call, not a create.
   */
  createLease?: boolean;
}

/** The Lease does not exist and this elector may not create it. */
export class LeaseMissingError extends Error {
  override readonly name = 'LeaseMissingError';
}

/** Runs while leading; `signal` aborts when leadership ends. A rejection gives the lease up. */
export type StartedLeadingCallback = (signal: AbortSignal) => void | Promise<void>;
/** Called once each time leadership ends, after the work's signal aborted. */
export type StoppedLeadingCallback = () => void | Promise<void>;

/** The reason on the work's signal when leadership ends. */
export class LeadershipEndedError extends Error {
  override readonly name = 'LeadershipEndedError';
}

type Outcome =
  /** The lease is ours (created, renewed or taken over). */
  | 'acquired'
  /** Someone else holds it and their claim is live. */
  | 'held'
  /** Someone else wrote it between our read and our write. */
  | 'conflict'
  /** The call failed or timed out; nothing is known. */
  | 'failed';

interface Term {
  controller: AbortController;
  /** Settles when every started-leading callback has settled. */
  work: Promise<void>;
  /** Settles when every stopped-leading callback has settled. */
  stopped: Promise<void>;
  settled: boolean;
  /** Give the lease up after the work settled (stop, or the work failed). */
  release: boolean;
}

const silentLogger: LeaderLogger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
};

/**
 * Leader election on a coordination.k8s.io/v1 Lease, so that of several
 * operator replicas only one acts, with the semantics of Kubernetes' own:
 * acquire a Lease that is absent, released, held by this identity, or
 * whose holder has not changed it for a lease duration as seen on this
 * machine's clock; renew every retry period with optimistic concurrency;
 * stop leading when renewals fail for the renew deadline or someone else
 * holds the Lease; release it on stop() so a successor takes over at once.
 *
 * After losing the lease the elector becomes a candidate again (once the
 * previous work has settled); callbacks run again on the next term.
 *
 * ```ts
 * const elector = new LeaderElector({
 *   kubeConfig, namespace, name: 'flowpool-operator', identity: config.identity, logger,
 * });
 * elector
 *   .onStartedLeading((signal) => runControllers(signal)) // stop when signal aborts
 *   .onStoppedLeading(() => logger.warn({}, 'no longer leading'));
 * elector.start();
 * // on SIGTERM: await elector.stop(); // aborts the work, waits for it, releases the Lease
 * ```
 *
 * The ServiceAccount needs `get`, `create` and `update` on
 * `leases.coordination.k8s.io` in that namespace; `get` and `update` only
 * with `createLease: false`, when the Lease is created for it.
 */
export class LeaderElector {
  readonly identity: string;
  private readonly client: LeaseClient;
  private readonly clock: Clock;
  private readonly logger: LeaderLogger;
  private readonly leaseDurationSeconds: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private readonly retryJitter: number;
  private readonly workStopTimeoutMs: number;
  private readonly createLease: boolean;
  private readonly startedCallbacks: StartedLeadingCallback[] = [];
  private readonly stoppedCallbacks: StoppedLeadingCallback[] = [];
  private readonly stopController = new AbortController();

  private currentState: LeaderState = 'idle';
  private observation: LeaseObservation | undefined;
  /** Our last write made us the holder, and we have not released it since. */
  private held = false;
  /** Clock.now() when the last successful write as holder was sent. */
  private renewedAt = Number.NEGATIVE_INFINITY;
  private term: Term | undefined;
  private loop: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  private lastProblem: string | undefined;
  private lastHolderSeen: string | undefined;

  constructor(options: LeaderElectorOptions) {
    const leaseDurationMs = options.leaseDurationMs ?? 15_000;
    const renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
    const retryPeriodMs = options.retryPeriodMs ?? 2_000;
    const retryJitter = options.retryJitter ?? 0.2;
    if (!options.identity) throw new Error('LeaderElector: identity must not be empty');
    if (!options.namespace || !options.name) {
      throw new Error('LeaderElector: namespace and name of the Lease must not be empty');
    }
    if (!(retryPeriodMs > 0)) throw new Error('LeaderElector: retryPeriodMs must be > 0');
    if (!(renewDeadlineMs > retryPeriodMs)) {
      throw new Error(
        `LeaderElector: renewDeadlineMs (${renewDeadlineMs}) must be greater than retryPeriodMs (${retryPeriodMs})`,
      );
    }
    if (!(leaseDurationMs > renewDeadlineMs)) {
      throw new Error(
        `LeaderElector: leaseDurationMs (${leaseDurationMs}) must be greater than renewDeadlineMs (${renewDeadlineMs}), or a leader that cannot renew could still be working when another takes over`,
      );
    }
    if (leaseDurationMs < 1000) {
      throw new Error(
        'LeaderElector: leaseDurationMs must be at least 1000 (Leases count seconds)',
      );
    }
    if (!(retryJitter >= 0)) throw new Error('LeaderElector: retryJitter must be >= 0');

    this.identity = options.identity;
    this.leaseDurationSeconds = Math.ceil(leaseDurationMs / 1000);
    this.renewDeadlineMs = renewDeadlineMs;
    this.retryPeriodMs = retryPeriodMs;
    this.retryJitter = retryJitter;
    this.workStopTimeoutMs = options.workStopTimeoutMs ?? renewDeadlineMs;
    this.createLease = options.createLease ?? true;
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
    if (options.leaseClient) {
      this.client = options.leaseClient;
    } else if (options.kubeConfig) {
      this.client = new KubernetesLeaseClient({
        kubeConfig: options.kubeConfig,
        namespace: options.namespace,
        name: options.name,
        fieldManager: options.fieldManager,
      });
    } else {
      throw new Error('LeaderElector: give kubeConfig (or a leaseClient)');
    }
  }

  /** Registers work to run while leading. Register before start(). */
  onStartedLeading(callback: StartedLeadingCallback): this {
    this.assertIdle('onStartedLeading');
    this.startedCallbacks.push(callback);
    return this;
  }

  /** Registers a callback for the end of each term (lost, given up, or stopped). Register before start(). */
  onStoppedLeading(callback: StoppedLeadingCallback): this {
    this.assertIdle('onStoppedLeading');
    this.stoppedCallbacks.push(callback);
    return this;
  }

  get state(): LeaderState {
    return this.currentState;
  }

  /**
   * True while this replica leads. Checked against the renew deadline on
   * every call, so it turns false on time even if the event loop is late
   * to run the elector's timers.
   */
  isLeader(): boolean {
    return (
      this.currentState === 'leading' && this.clock.now() < this.renewedAt + this.renewDeadlineMs
    );
  }

  /** The holder as last seen in the Lease ('' is nobody); undefined before the first reading. */
  leaderIdentity(): string | undefined {
    return this.observation?.lease.record.holderIdentity;
  }

  /** Starts campaigning in the background. Calling it again while running does nothing. */
  start(): void {
    if (this.currentState === 'stopped') {
      throw new Error('LeaderElector: start() after stop(); make a new elector');
    }
    if (this.loop) return;
    this.setState('candidate');
    this.logger.info(
      { lease: this.client.description, identity: this.identity },
      'leader election: campaigning',
    );
    this.loop = this.run().catch((error: unknown) => {
      // run() handles its own failures; this is a bug guard.
      this.logger.error({ err: logText(error) }, 'leader election: loop failed');
    });
  }

  /**
   * Stops campaigning or leading: aborts the work's signal, calls the
   * stopped-leading callbacks, waits up to workStopTimeoutMs for the work,
   * then releases the lease if held. Resolves when all that is done; safe
   * to call more than once.
   */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    this.stopController.abort();
    if (this.term) this.stepDown(this.term, 'the elector was stopped', 'stopped');
    this.setState('stopped');
    await this.loop;
  }

  private assertIdle(what: string): void {
    if (this.currentState !== 'idle') {
      throw new Error(`LeaderElector: ${what}() must be called before start()`);
    }
  }

  private setState(state: LeaderState): void {
    if (this.currentState === 'stopped') return;
    this.currentState = state;
  }

  private async run(): Promise<void> {
    const stopSignal = this.stopController.signal;
    while (!stopSignal.aborted) {
      const sentAt = this.clock.now();
      // A candidate's try is abandoned on stop; a leader's renewal (below, in
      // lead()) is waited for, so that the release writes over it.
      const outcome = await this.attempt(this.renewDeadlineMs, stopSignal);
      if (stopSignal.aborted) break;
      if (outcome === 'acquired') {
        this.renewedAt = sentAt;
        await this.lead();
        if (stopSignal.aborted) break;
      }
      await this.clock.sleep(
        this.retryPeriodMs * (1 + Math.random() * this.retryJitter),
        stopSignal,
      );
    }
    // Stopped. Release only when no work may still be running.
    const term = this.term;
    if (this.held && (term === undefined || term.settled)) {
      await this.release();
    } else if (this.held) {
      this.logger.warn(
        { lease: this.client.description, waitedMs: this.workStopTimeoutMs },
        'leader election: the leading work did not finish; leaving the lease to expire instead of releasing it',
      );
    }
  }

  /** One term as leader: renew until stopped or lost, then wait for the work. */
  private async lead(): Promise<void> {
    const term = this.beginTerm();
    const signal = term.controller.signal;
    while (!signal.aborted) {
      const deadline = this.renewedAt + this.renewDeadlineMs;
      await this.clock.sleep(Math.min(this.retryPeriodMs, deadline - this.clock.now()), signal);
      if (signal.aborted) break;
      const sentAt = this.clock.now();
      if (sentAt >= deadline) {
        this.stepDown(term, `could not renew the lease for ${this.renewDeadlineMs} ms`);
        break;
      }
      const outcome = await this.attempt(deadline - sentAt);
      if (signal.aborted) break;
      if (outcome === 'acquired') {
        this.renewedAt = sentAt;
      } else if (outcome === 'held' || outcome === 'conflict') {
        const holder = this.observation?.lease.record.holderIdentity;
        this.stepDown(term, `the lease was taken${holder ? ` by ${holder}` : ''}`);
        break;
      } else if (this.clock.now() >= deadline) {
        this.stepDown(term, `could not renew the lease for ${this.renewDeadlineMs} ms`);
        break;
      }
    }
    await this.settle(term);
    if (term.release && term.settled && this.held && !this.stopController.signal.aborted) {
      await this.release();
    }
  }

  private beginTerm(): Term {
    const controller = new AbortController();
    const term: Term = {
      controller,
      work: Promise.resolve(),
      stopped: Promise.resolve(),
      settled: false,
      release: false,
    };
    this.term = term;
    this.setState('leading');
    this.lastProblem = undefined;
    const record = this.observation?.lease.record;
    this.logger.info(
      {
        lease: this.client.description,
        identity: this.identity,
        leaseTransitions: record?.leaseTransitions,
      },
      'leader election: became leader',
    );
    const runs = this.startedCallbacks.map((callback) => invoke(() => callback(controller.signal)));
    for (const run of runs) {
      run.catch((error: unknown) => {
        if (controller.signal.aborted) {
          this.logger.warn(
            { err: logText(error) },
            'leader election: leading work failed after it was stopped',
          );
          return;
        }
        this.logger.error(
          { err: logText(error) },
          'leader election: leading work failed; giving the lease up',
        );
        term.release = true;
        this.stepDown(term, `the leading work failed: ${logText(error)}`);
      });
    }
    term.work = Promise.allSettled(runs).then(() => {
      term.settled = true;
    });
    return term;
  }

  /** Ends a term: abort its work, tell the stopped-leading callbacks. Idempotent. */
  private stepDown(term: Term, reason: string, next: 'candidate' | 'stopped' = 'candidate'): void {
    if (this.term !== term || term.controller.signal.aborted) return;
    if (next === 'stopped') term.release = true;
    this.setState(next);
    term.controller.abort(new LeadershipEndedError(reason));
    const log = next === 'stopped' ? this.logger.info : this.logger.warn;
    log.call(
      this.logger,
      { lease: this.client.description, identity: this.identity, reason },
      'leader election: stopped leading',
    );
    const calls = this.stoppedCallbacks.map((callback) =>
      invoke(callback).catch((error: unknown) => {
        this.logger.error(
          { err: logText(error) },
          'leader election: stopped-leading callback failed',
        );
      }),
    );
    term.stopped = Promise.all(calls).then(() => undefined);
  }

  /**
   * Waits for the term's work and stopped-leading callbacks. Unbounded while
   * the elector runs (no new term starts while old work may still be
   * running); bounded by workStopTimeoutMs once stop() was called.
   */
  private async settle(term: Term): Promise<void> {
    const done = Promise.all([term.work, term.stopped]);
    const cancel = new AbortController();
    const givingUp = whenAborted(this.stopController.signal, cancel.signal).then(() =>
      cancel.signal.aborted ? undefined : this.clock.sleep(this.workStopTimeoutMs, cancel.signal),
    );
    // Say so when the work is slow to stop: no new term starts until it has.
    void this.clock.sleep(this.workStopTimeoutMs, cancel.signal).then(() => {
      if (!cancel.signal.aborted && !this.stopController.signal.aborted) {
        this.logger.warn(
          { lease: this.client.description, waitedMs: this.workStopTimeoutMs },
          'leader election: the leading work has not finished since its signal aborted; not campaigning until it does',
        );
      }
    });
    await Promise.race([done, givingUp]);
    cancel.abort();
  }

  /** One try at creating, taking over or renewing the lease, given up after timeoutMs. */
  private async attempt(timeoutMs: number, abandon?: AbortSignal): Promise<Outcome> {
    try {
      const outcome = await this.callWithDeadline(
        timeoutMs,
        (signal) => this.tryAcquireOrRenew(signal),
        abandon,
      );
      if (outcome === 'acquired') this.lastProblem = undefined;
      return outcome;
    } catch (error) {
      this.problem(error);
      return 'failed';
    }
  }

  /**
   * Runs `call` with a signal that aborts after timeoutMs on the elector's
   * clock, and gives up on it then even if it does not honour the signal.
   */
  private async callWithDeadline<T>(
    timeoutMs: number,
    call: (signal: AbortSignal) => Promise<T>,
    abandon?: AbortSignal,
  ): Promise<T> {
    const timeout = new AbortController();
    const cancelTimer = new AbortController();
    void this.clock.sleep(timeoutMs, cancelTimer.signal).then(() => {
      if (!cancelTimer.signal.aborted) {
        timeout.abort(new Error(`lease call timed out after ${Math.round(timeoutMs)} ms`));
      }
    });
    const onAbandon = () => timeout.abort(new Error('lease call abandoned: the elector stopped'));
    if (abandon?.aborted) onAbandon();
    abandon?.addEventListener('abort', onAbandon, { once: true });
    try {
      return await raceAbort(call(timeout.signal), timeout.signal);
    } finally {
      cancelTimer.abort();
      abandon?.removeEventListener('abort', onAbandon);
    }
  }

  private async tryAcquireOrRenew(signal: AbortSignal): Promise<Outcome> {
    const opts = { signal };
    const observed = this.observation;
    // Fast path for a leader: write over what we wrote last, no read first.
    if (this.currentState === 'leading' && this.held && observed) {
      try {
        const stored = await this.client.replace(observed.lease, this.nextRecord(observed), opts);
        signal.throwIfAborted();
        this.wrote(stored);
        return 'acquired';
      } catch (error) {
        signal.throwIfAborted();
        if (!(error instanceof LeaseConflictError)) throw error;
        // Someone wrote since; read and judge below.
      }
    }

    const lease = await this.client.get(opts);
    signal.throwIfAborted();
    if (lease === undefined) {
      this.observation = undefined;
      this.held = false;
      if (!this.createLease) {
        throw new LeaseMissingError(
          `lease ${this.client.description} does not exist, and this replica does not create it (LEASE_CREATE=false: whoever installed the operator creates it, e.g. its Helm chart)`,
        );
      }
      try {
        const stored = await this.client.create(this.nextRecord(undefined), opts);
        signal.throwIfAborted();
        this.wrote(stored);
        return 'acquired';
      } catch (error) {
        signal.throwIfAborted();
        if (error instanceof LeaseConflictError) return 'conflict';
        throw error;
      }
    }

    const now = this.clock.now();
    const observation = observe(this.observation, lease, now);
    this.observation = observation;
    const holder = lease.record.holderIdentity;
    if (holder !== this.identity) this.held = false;
    const plan = planAttempt(observation, this.identity, now);
    if (plan.action === 'wait') {
      if (holder !== this.lastHolderSeen) {
        this.logger.info(
          { lease: this.client.description, holder },
          'leader election: lease held by another replica; waiting',
        );
      }
      this.lastHolderSeen = holder;
      return 'held';
    }
    this.lastHolderSeen = holder;
    if (plan.action === 'write' && plan.takeover && holder !== '') {
      this.logger.info(
        { lease: this.client.description, previousHolder: holder },
        'leader election: the holder let the lease expire; taking it over',
      );
    }
    try {
      const stored = await this.client.replace(lease, this.nextRecord(observation), opts);
      signal.throwIfAborted();
      this.wrote(stored);
      return 'acquired';
    } catch (error) {
      signal.throwIfAborted();
      if (error instanceof LeaseConflictError) {
        this.held = false;
        return 'conflict';
      }
      throw error;
    }
  }

  private nextRecord(observation: LeaseObservation | undefined) {
    return holderRecord(
      observation?.lease.record,
      this.identity,
      this.leaseDurationSeconds,
      this.clock.date(),
    );
  }

  private wrote(stored: StoredLease): void {
    this.observation = { lease: stored, observedAt: this.clock.now() };
    this.held = stored.record.holderIdentity === this.identity;
  }

  /** Gives the lease up: nobody holds it, so a candidate takes it at its next try. */
  private async release(): Promise<void> {
    const observed = this.observation;
    if (!this.held || observed === undefined) return;
    try {
      const stored = await this.callWithDeadline(this.renewDeadlineMs, (signal) =>
        this.client.replace(
          observed.lease,
          releasedRecord(observed.lease.record, this.clock.date()),
          { signal },
        ),
      );
      this.observation = { lease: stored, observedAt: this.clock.now() };
      this.held = false;
      this.logger.info(
        { lease: this.client.description, identity: this.identity },
        'leader election: released the lease',
      );
    } catch (error) {
      if (error instanceof LeaseConflictError) {
        this.held = false;
        this.logger.info(
          { lease: this.client.description },
          'leader election: the lease changed hands before it was released',
        );
        return;
      }
      this.logger.warn(
        { lease: this.client.description, err: logText(error) },
        'leader election: could not release the lease; it will expire',
      );
    }
  }

  /** Logs a failed call: a new problem as a warning, its repetitions at debug. */
  private problem(error: unknown): void {
    const message = logText(error);
    const fields = { lease: this.client.description, identity: this.identity, err: message };
    if (message !== this.lastProblem) {
      this.logger.warn(fields, 'leader election: lease call failed');
    } else {
      this.logger.debug(fields, 'leader election: lease call failed again');
    }
    this.lastProblem = message;
  }
}

/** Calls `fn` and turns its result, a throw included, into a promise. */
function invoke(fn: () => void | Promise<void>): Promise<void> {
  return new Promise<void>((resolve) => resolve(fn()));
}

/** Settles like `promise`, or rejects with the signal's reason if it aborts first. */
function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    promise.catch(() => {});
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/** Resolves when `signal` aborts, or when `cancel` does (and then stops listening). */
function whenAborted(signal: AbortSignal, cancel: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal.aborted || cancel.aborted) {
      resolve();
      return;
    }
    const done = () => {
      signal.removeEventListener('abort', done);
      cancel.removeEventListener('abort', done);
      resolve();
    };
    signal.addEventListener('abort', done, { once: true });
    cancel.addEventListener('abort', done, { once: true });
  });
}
