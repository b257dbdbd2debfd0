import type { Logger } from 'pino';
import { type Clock, systemClock } from '../../core/clock.js';
import { logText } from '../../core/error-record.js';
import { sleep } from '../../core/timing.js';
import { type Delivery, parseNotice, type StreamTransport } from '../../stream/transport.js';
import type { Heartbeat } from './actions.js';
import type { DeliveryHandler, DeliveryOutcome } from './delivery-handler.js';
import { Semaphore } from './semaphore.js';

export interface ConsumerOptions {
  /** Stable per process (the pod name), so per-consumer pending counts mean something. */
  consumerName: string;
  /** Reading loops; each needs its own transport because XREADGROUP BLOCK holds a connection. */
  loops: number;
  batchSize: number;
  /** Short enough that a loop notices shutdown promptly. */
  blockMs: number;
  concurrency: number;
  /** Entries idle this long at another consumer are taken over; must exceed the lock TTL. */
  idleTimeoutMs: number;
  /**
   * A running delivery that reports no progress for this long (plus the
   * timeout of the action it runs) is stuck: it holds a slot and does nothing.
   */
  stuckAfterMs?: number;
  /** This process's clock (a test may skew it); retry times are read through its offset to Redis's. */
  clock?: Clock;
}

const DEFAULT_STUCK_AFTER_MS = 60_000;
/**
 * How far before a catch-up's start (on Redis's clock, as estimated here) a
 * notice must have been added to count as covered by it: more than the
 * error of the estimate (half a round trip, plus drift between syncs).
 */
const COVER_MARGIN_MS = 100;
/** Executions whose last finished catch-up this process remembers. */
const COVERED_EXECUTIONS = 10_000;

export type ConsumerState = 'idle' | 'running' | 'draining' | 'stopped';

export interface ConsumerObserver {
  onOutcome?(outcome: DeliveryOutcome, durationMs: number): void;
  onError?(error: unknown, where: string): void;
}

interface Held {
  delivery: Delivery;
  /** The execution it names (the entry id for a malformed notice). */
  lane: string;
  /** Its place in the order deliveries reached this process. */
  order: number;
  /**
   * While running: the order of the last delivery accepted before its
   * handling began. Its catch-up reads after that, so it covers the events
   * of every notice accepted up to there.
   */
  covers?: number;
  /** While running: Redis's time (estimated) when its handling began. */
  coversAddedBefore?: number;
  started: boolean;
  timer?: NodeJS.Timeout;
  /** While running: when it is stuck unless it reports progress first (ms since epoch). */
  deadline?: number;
  stuckSince?: number;
}

/**
 * The deliveries of one execution in this process: the lead (running,
 * waiting for a slot or for its retry time) and at most one follower
 * waiting behind it. The follower's catch-up starts after the lead ends and
 * reads every event committed by then, so a third notice adds nothing and
 * is acked at once; the follower takes no room, so notices re-sent for a
 * slow execution cannot crowd out other work.
 */
interface Lane {
  lead: Held;
  next?: Held;
}

/**
 * Reads notices for one process: several reading loops, a shared limit of
 * deliveries in flight, one delivery at a time per execution inside the
 * process, takeover of entries other consumers abandoned, and a drain that
 * hands back whatever it could not finish.
 */
export class StreamConsumer {
  private state: ConsumerState = 'idle';
  private readonly held = new Map<string, Held>();
  /**
   * Places promised to reads and claims in progress. Every held delivery
   * needs a slot, so room is counted as held + reserved: two loops computing
   * room from `held` alone while both await Redis would each read a full
   * share, and the surplus would wait for a slot in this process, pending
   * here and out of other consumers' reach.
   */
  private reserved = 0;
  private readonly lanes = new Map<string, Lane>();
  private readonly slots: Semaphore;
  private watchdog: NodeJS.Timeout | undefined;
  /** Redis's clock minus this process's, as last measured: retry times are on Redis's clock. */
  private clockOffset = 0;
  private readonly loopsDone: Promise<void>[] = [];
  private housekeeping: NodeJS.Timeout | undefined;
  /** The housekeeping pass in progress: drain waits for it, or a late claim could slip past the hand-back. */
  private housekeepingPass: Promise<void> = Promise.resolve();
  /** Deliveries accepted so far (orders them). */
  private accepted = 0;
  /** Reading loops waiting for a slot to free. */
  private roomWaiters: Array<() => void> = [];
  /** Redis's clock minus this process's monotonic clock, which no clock step moves. */
  private monotonicOffset = 0;
  /**
   * Per execution (least recently finished first): notices added to the
   * stream before this time are covered by a catch-up this process finished.
   */
  private readonly coveredBefore = new Map<string, number>();

  constructor(
    private readonly transport: StreamTransport,
    private readonly readers: readonly StreamTransport[],
    private readonly handler: Pick<DeliveryHandler, 'handle'>,
    private readonly options: ConsumerOptions,
    private readonly logger: Logger,
    private readonly observer: ConsumerObserver = {},
  ) {
    this.slots = new Semaphore(options.concurrency);
  }

  get lifecycle(): ConsumerState {
    return this.state;
  }

  /** Deliveries this process holds: running, queued behind their execution, or waiting to retry. */
  get inFlight(): number {
    return this.held.size;
  }

  get concurrency(): number {
    return this.options.concurrency;
  }

  /** Running deliveries past their deadline: slots that hold on and do nothing. */
  stuckSlots(now = Date.now()): number {
    let stuck = 0;
    for (const entry of this.held.values())
      if (entry.started && entry.deadline !== undefined && entry.deadline < now) stuck += 1;
    return stuck;
  }

  private get stuckAfterMs(): number {
    return this.options.stuckAfterMs ?? DEFAULT_STUCK_AFTER_MS;
  }

  async start(): Promise<void> {
    if (this.state !== 'idle') return;
    await this.transport.ensureGroup();
    await this.syncClock();
    this.state = 'running';
    for (const reader of this.readers.slice(0, this.options.loops))
      this.loopsDone.push(this.readLoop(reader));
    const period = Math.max(100, Math.floor(this.options.idleTimeoutMs / 3));
    this.housekeeping = setInterval(() => {
      this.housekeepingPass = this.keepHeldAndClaim();
    }, period);
    const watch = Math.min(5_000, Math.max(50, Math.floor(this.stuckAfterMs / 4)));
    this.watchdog = setInterval(() => this.reportStuck(), watch);
  }

  private get clock(): Clock {
    return this.options.clock ?? systemClock;
  }

  /** Measures the offset to Redis's clock, halving the round trip. */
  private async syncClock(): Promise<void> {
    const before = this.clock.now();
    const monotonicBefore = performance.now();
    const redisNow = await this.transport.time();
    const after = this.clock.now();
    this.clockOffset = redisNow - (before + after) / 2;
    this.monotonicOffset = redisNow - (monotonicBefore + performance.now()) / 2;
  }

  /** Says once per delivery that it is stuck, and once when it moves again. */
  private reportStuck(): void {
    const now = Date.now();
    const stuck = this.stuckSlots(now);
    for (const entry of this.held.values()) {
      if (!entry.started || entry.deadline === undefined) continue;
      const isStuck = entry.deadline < now;
      if (isStuck && entry.stuckSince === undefined) {
        entry.stuckSince = now;
        this.logger.warn(
          {
            notice: parseNotice(entry.delivery.fields),
            entryId: entry.delivery.id,
            stuckSlots: stuck,
            concurrency: this.options.concurrency,
          },
          stuck >= this.options.concurrency
            ? 'delivery stuck past its deadline; every slot of this worker is stuck'
            : 'delivery stuck past its deadline',
        );
      } else if (!isStuck && entry.stuckSince !== undefined) {
        entry.stuckSince = undefined;
        this.logger.info(
          { notice: parseNotice(entry.delivery.fields), entryId: entry.delivery.id },
          'stuck delivery moves again',
        );
      }
    }
  }

  private async readLoop(reader: StreamTransport): Promise<void> {
    while (this.state === 'running') {
      const room = this.reserveRoom(this.options.batchSize);
      if (room === 0) {
        await this.waitForRoom();
        continue;
      }
      try {
        await this.fill(room, () =>
          reader.readNew(this.options.consumerName, room, this.options.blockMs),
        );
      } catch (error) {
        await this.recoverFromReadError(reader, error);
      }
    }
  }

  /**
   * Reserves up to `wanted` places for deliveries about to arrive; returns
   * how many (0 when full). Synchronous, so concurrent loops cannot both
   * count the same free place. `fill` gives them back.
   */
  private reserveRoom(wanted: number): number {
    const room = Math.min(wanted, this.options.concurrency - this.lanes.size - this.reserved);
    if (room <= 0) return 0;
    this.reserved += room;
    return room;
  }

  /**
   * Fetches into `room` reserved places (a read or a claim): the reservation
   * stands while Redis answers and turns into held entries with no await
   * between.
   */
  private async fill(room: number, fetch: () => Promise<Delivery[]>): Promise<void> {
    let deliveries: Delivery[];
    try {
      deliveries = await fetch();
    } finally {
      this.reserved -= room;
    }
    for (const delivery of deliveries) this.accept(delivery);
  }

  /**
   * Until an execution leaves (woken at once, so a freed slot is refilled
   * without a polling delay), or a short while at most.
   */
  private async waitForRoom(): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 50);
      this.roomWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private wakeReaders(): void {
    const waiters = this.roomWaiters;
    this.roomWaiters = [];
    for (const wake of waiters) wake();
  }

  /** NOGROUP after an emptied Redis, or a dropped connection: recreate and back off. */
  private async recoverFromReadError(reader: StreamTransport, error: unknown): Promise<void> {
    this.observer.onError?.(error, 'read');
    this.logger.warn({ err: logText(error) }, 'reading the stream failed; retrying');
    await sleep(500);
    await reader.ensureGroup().catch(() => {});
  }

  private accept(delivery: Delivery): void {
    if (this.held.has(delivery.id)) return;
    const notice = parseNotice(delivery.fields);
    const key = notice ? JSON.stringify([notice.tenant, notice.executionId]) : delivery.id;
    if (notice && this.isCovered(key, delivery.id)) {
      // Its event committed before the notice was added, so before a catch-up
      // of its execution here began reading, and that catch-up succeeded.
      this.transport.ack([delivery.id]).catch((error) => this.observer.onError?.(error, 'ack'));
      return;
    }
    const entry: Held = { delivery, lane: key, order: ++this.accepted, started: false };
    const lane = this.lanes.get(key);
    if (!lane) {
      this.held.set(delivery.id, entry);
      this.lanes.set(key, { lead: entry });
      this.begin(entry);
    } else if (!lane.next) {
      this.held.set(delivery.id, entry);
      lane.next = entry;
    } else {
      // The follower already covers it (see Lane).
      this.transport.ack([delivery.id]).catch((error) => this.observer.onError?.(error, 'ack'));
    }
  }

  private isCovered(key: string, entryId: string): boolean {
    const before = this.coveredBefore.get(key);
    if (before === undefined) return false;
    const addedAt = Number(entryId.split('-')[0]);
    return Number.isFinite(addedAt) && addedAt < before;
  }

  private rememberCovered(entry: Held): void {
    if (entry.coversAddedBefore === undefined) return;
    const before = entry.coversAddedBefore - COVER_MARGIN_MS;
    const earlier = this.coveredBefore.get(entry.lane);
    this.coveredBefore.delete(entry.lane);
    this.coveredBefore.set(entry.lane, Math.max(before, earlier ?? before));
    if (this.coveredBefore.size > COVERED_EXECUTIONS) {
      const oldest = this.coveredBefore.keys().next().value;
      if (oldest !== undefined) this.coveredBefore.delete(oldest);
    }
  }

  /** Runs a lane's lead once its retry time has come. */
  private begin(entry: Held): void {
    const wait = entry.delivery.notBefore - (this.clock.now() + this.clockOffset);
    if (wait > 0 && this.state === 'running') {
      entry.timer = setTimeout(() => {
        entry.timer = undefined;
        void this.run(entry);
      }, wait);
    } else {
      void this.run(entry);
    }
  }

  /**
   * The lead ended (or was handed back): its follower leads now, unless the
   * lead's catch-up already covered it (see `covers`): then the follower is
   * acked with no catch-up of its own, so notices made redundant drain with
   * the events they announced.
   */
  private advance(entry: Held, covered = false): void {
    const lane = this.lanes.get(entry.lane);
    if (lane?.lead !== entry) return;
    const next = lane.next;
    if (
      next &&
      this.isHeld(next) &&
      covered &&
      entry.covers !== undefined &&
      next.order <= entry.covers
    ) {
      this.held.delete(next.delivery.id);
      this.transport
        .ack([next.delivery.id])
        .catch((error) => this.observer.onError?.(error, 'ack'));
      this.lanes.delete(entry.lane);
    } else if (next && this.isHeld(next)) {
      this.lanes.set(entry.lane, { lead: next });
      this.begin(next);
    } else {
      this.lanes.delete(entry.lane);
    }
    this.wakeReaders();
  }

  private async run(entry: Held): Promise<void> {
    if (!this.isHeld(entry)) return; // handed back during drain
    await this.slots.acquire();
    // Drain may have handed the entry back while it waited for a slot: another
    // consumer may be running its copy already, and drain no longer waits for it.
    if (!this.isHeld(entry)) {
      this.slots.release();
      return;
    }
    entry.started = true;
    const heartbeat: Heartbeat = (extraBudgetMs = 0) => {
      entry.deadline = Date.now() + this.stuckAfterMs + extraBudgetMs;
    };
    heartbeat();
    const startedAt = performance.now();
    entry.covers = this.accepted;
    entry.coversAddedBefore = performance.now() + this.monotonicOffset;
    let covered = false;
    try {
      const outcome = await this.handler.handle(entry.delivery, heartbeat);
      covered = outcome.kind === 'done';
      if (covered && parseNotice(entry.delivery.fields)) this.rememberCovered(entry);
      this.observer.onOutcome?.(outcome, performance.now() - startedAt);
    } catch (error) {
      // Redis or PostgreSQL failed mid-handling; the entry stays pending and is taken over later.
      this.observer.onError?.(error, 'handle');
      this.logger.warn(
        {
          err: logText(error),
          entryId: entry.delivery.id,
          notice: parseNotice(entry.delivery.fields),
        },
        'delivery left pending',
      );
    } finally {
      this.slots.release();
      if (this.isHeld(entry)) this.held.delete(entry.delivery.id);
      this.advance(entry, covered);
    }
  }

  private isHeld(entry: Held): boolean {
    return this.held.get(entry.delivery.id) === entry;
  }

  private async keepHeldAndClaim(): Promise<void> {
    try {
      await this.transport.touch(this.options.consumerName, [...this.held.keys()]);
      await this.syncClock();
      if (this.state !== 'running') return;
      // Hazard: reads blocked in XREADGROUP keep their reservation for up to
      // blockMs and mostly come back empty. Counted here, they would starve
      // this claim for as long as the worker sits idle, and a dead consumer's
      // entries would stay pending for ever. So a claim counts only what is
      // held; at worst one read's batch then waits here for a slot.
      const room = this.options.concurrency - this.lanes.size;
      if (room <= 0) return;
      this.reserved += room;
      await this.fill(room, () =>
        this.transport.claimIdle(this.options.consumerName, this.options.idleTimeoutMs, room),
      );
    } catch (error) {
      this.observer.onError?.(error, 'housekeeping');
    }
  }

  /**
   * Stops reading, lets running work finish until the deadline, then hands
   * back every entry still held so another consumer gets it at once instead
   * of after the idle timeout.
   */
  async drain(deadlineMs: number): Promise<{ finished: boolean; handedBack: number }> {
    if (this.state === 'stopped' || this.state === 'draining')
      return { finished: true, handedBack: 0 };
    const wasRunning = this.state === 'running';
    this.state = 'draining';
    const deadline = Date.now() + deadlineMs;
    // Loops first: a read still blocked in XREADGROUP would otherwise take back
    // the very notices handed back below, and this process would run them.
    // Likewise a claim already sent: what it takes must be held before the hand-back.
    await Promise.all(this.loopsDone);
    await this.housekeepingPass;
    let handedBack = await this.handBack((entry) => !entry.started);
    while (this.held.size > 0 && Date.now() < deadline) {
      await sleep(20);
    }
    const finished = this.held.size === 0;
    handedBack += await this.handBack(() => true);
    clearInterval(this.housekeeping);
    clearInterval(this.watchdog);
    if (wasRunning) await this.transport.leaveGroup(this.options.consumerName).catch(() => false);
    this.state = 'stopped';
    return { finished, handedBack };
  }

  private async handBack(which: (entry: Held) => boolean): Promise<number> {
    // Let go of every chosen entry before the first await: one still waiting
    // for a slot could otherwise start while an earlier requeue is in flight,
    // and then be requeued while it runs.
    const chosen = [...this.held.values()].filter(which);
    for (const entry of chosen) {
      clearTimeout(entry.timer);
      this.held.delete(entry.delivery.id);
    }
    for (const [key, lane] of this.lanes) {
      if (!this.isHeld(lane.lead)) this.lanes.delete(key);
      else if (lane.next && !this.isHeld(lane.next)) lane.next = undefined;
    }
    let count = 0;
    for (const entry of chosen) {
      try {
        await this.transport.requeue(entry.delivery, {
          deliveries: entry.delivery.deliveries - 1,
          notBefore: entry.delivery.notBefore,
        });
        count += 1;
      } catch (error) {
        this.observer.onError?.(error, 'hand-back');
      }
    }
    return count;
  }
}
