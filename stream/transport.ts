/**
 * The stream transport: how notices travel. A notice only says "execution X
 * of tenant T has work"; PostgreSQL holds the work itself, so a lost notice
 * delays work and never loses it.
 */

export interface Notice {
  tenant: string;
  executionId: string;
  /** The event that caused the notice, for logs and dead letters. */
  eventId?: string;
}

/** One stream entry handed to a consumer. */
export interface Delivery {
  id: string;
  /** Raw fields as stored; parse with parseNotice (they may be garbage). */
  fields: Record<string, string>;
  /** How many times this notice has been handed out, counting this time. */
  deliveries: number;
  /** Not to be processed before this time (ms since epoch on Redis's clock, see `time`); set on retries. */
  notBefore: number;
  lastError: string | undefined;
}

/**
 * How a requeued entry waits: `delayMs` from now on Redis's clock (a retry),
 * or until `notBefore` as it already was (a hand-back keeps its time).
 */
export type Retry = { deliveries: number; error?: string } & (
  | { delayMs: number; notBefore?: undefined }
  | { notBefore: number; delayMs?: undefined }
);

export interface DeadLetter {
  id: string;
  fields: Record<string, string>;
  error: string;
  deliveries: number;
  deadAt: number;
}

export interface TrimResult {
  /** Entries removed; approximate trimming removes whole stream nodes only, so often fewer than consumed. */
  removed: number;
  /** The oldest entry some group still needs (everything older is consumed); undefined without a group. */
  floor: string | undefined;
}

export interface StreamTransport {
  readonly stream: string;
  readonly group: string;
  /** Creates the stream and consumer group when missing (idempotent). */
  ensureGroup(): Promise<void>;
  publish(notices: readonly Notice[]): Promise<void>;
  /** New entries for this consumer; blocks up to `blockMs` when there are none. */
  readNew(consumer: string, count: number, blockMs: number): Promise<Delivery[]>;
  /** Takes over entries other consumers left idle longer than `minIdleMs`. */
  claimIdle(consumer: string, minIdleMs: number, count: number): Promise<Delivery[]>;
  /** Resets the idle time of entries still being worked on, so nobody claims them. */
  touch(consumer: string, ids: readonly string[]): Promise<void>;
  ack(ids: readonly string[]): Promise<void>;
  /** Atomically replaces an entry with a fresh copy: a retry (or a hand-back) anyone can read. */
  requeue(delivery: Delivery, retry: Retry): Promise<void>;
  /** Redis's clock (ms since epoch): the one clock retry times are set and read on. */
  time(): Promise<number>;
  /** Atomically moves an entry to the dead-letter stream with its error. */
  deadLetter(delivery: Delivery, error: string): Promise<void>;
  listDeadLetters(count: number): Promise<DeadLetter[]>;
  removeDeadLetter(id: string): Promise<void>;
  /** Deletes every dead-letter entry of one execution (found through an index, not a scan). */
  removeDeadLettersOf(tenant: string, executionId: string): Promise<number>;
  /**
   * Trims entries that every consumer group has read and acknowledged (not
   * just this transport's group); pending and unread entries always stay.
   */
  trimConsumed(): Promise<TrimResult>;
  /** Removes this consumer from the group if it has nothing pending. */
  leaveGroup(consumer: string): Promise<boolean>;
  ping(): Promise<void>;
}

const FIELD = { tenant: 'tenant', execution: 'execution', event: 'event' } as const;

export function noticeFields(notice: Notice): Record<string, string> {
  const fields: Record<string, string> = {
    [FIELD.tenant]: notice.tenant,
    [FIELD.execution]: notice.executionId,
  };
  if (notice.eventId) fields[FIELD.event] = notice.eventId;
  return fields;
}

/** Reads a notice from raw fields; undefined when they are not a notice. */
export function parseNotice(fields: Record<string, string>): Notice | undefined {
  const tenant = fields[FIELD.tenant];
  const executionId = fields[FIELD.execution];
  if (!tenant || !executionId || tenant.length > 200 || executionId.length > 200) return undefined;
  const eventId = fields[FIELD.event];
  return eventId ? { tenant, executionId, eventId } : { tenant, executionId };
}
