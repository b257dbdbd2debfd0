import type { Redis } from 'ioredis';
import { Batcher } from './batcher.js';
import {
  DEAD_LETTER,
  REMOVE_CONSUMER,
  REMOVE_DEAD_LETTERS,
  REQUEUE,
  TRIM_CONSUMED,
} from './scripts.js';
import {
  type DeadLetter,
  type Delivery,
  type Notice,
  noticeFields,
  parseNotice,
  type Retry,
  type StreamTransport,
  type TrimResult,
} from './transport.js';

type RawEntry = [id: string, fields: string[] | null];

const META_PREFIX = '_';

function fieldsOf(flat: string[] | null): Record<string, string> {
  const fields: Record<string, string> = {};
  if (!flat) return fields;
  for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!;
  return fields;
}

/** The notice's own fields, without the retry metadata this transport adds. */
function payloadPairs(fields: Record<string, string>): string[] {
  return Object.entries(fields)
    .filter(([key]) => !key.startsWith(META_PREFIX))
    .flat();
}

/** Builds a delivery; `extraDeliveries` counts redeliveries Redis did since the entry was written. */
function toDelivery(entry: RawEntry, extraDeliveries: number): Delivery {
  const fields = fieldsOf(entry[1]);
  const earlier = Number(fields._deliveries ?? 0);
  return {
    id: entry[0],
    fields,
    deliveries: (Number.isFinite(earlier) ? earlier : 0) + 1 + extraDeliveries,
    notBefore: Number(fields._not_before ?? 0) || 0,
    lastError: fields._error,
  };
}

export interface TransportOptions {
  /** Entries the dead-letter stream keeps (approximately: whole stream nodes are trimmed). */
  deadLetterMaxLength?: number;
}

const DEFAULT_DEAD_LETTER_MAX_LENGTH = 100_000;

/** The dead-letter index's name for an execution: unambiguous whatever the characters. */
function executionKey(tenant: string, executionId: string): string {
  return JSON.stringify([tenant, executionId]);
}

/** The stream transport on Redis Streams with one consumer group. */
export class RedisStreamTransport implements StreamTransport {
  readonly deadLetterStream: string;
  private readonly deadLetterIndex: string;
  private readonly deadLetterAges: string;
  private readonly deadLetterMaxLength: number;
  /** Acks of deliveries finishing together go out as one XACK. */
  private readonly acks = new Batcher<readonly string[]>((batches) => this.xack(batches.flat()));
  /** Acks asked for in this turn of the event loop, sent together on the next. */
  private ackTurn: Promise<void> | undefined;
  private ackTurnIds: string[] = [];

  constructor(
    private readonly redis: Redis,
    readonly stream: string,
    readonly group: string,
    options: TransportOptions = {},
  ) {
    this.deadLetterStream = `${stream}:dlq`;
    this.deadLetterIndex = `${stream}:dlq:index`;
    this.deadLetterAges = `${stream}:dlq:index-ages`;
    this.deadLetterMaxLength = options.deadLetterMaxLength ?? DEFAULT_DEAD_LETTER_MAX_LENGTH;
  }

  async ensureGroup(): Promise<void> {
    try {
      await this.redis.xgroup('CREATE', this.stream, this.group, '0', 'MKSTREAM');
    } catch (error) {
      // BUSYGROUP is Redis's stable error code for "group exists".
      if (!(error instanceof Error && error.message.startsWith('BUSYGROUP'))) throw error;
    }
  }

  async publish(notices: readonly Notice[]): Promise<void> {
    if (notices.length === 0) return;
    const pipeline = this.redis.pipeline();
    for (const notice of notices)
      pipeline.xadd(this.stream, '*', ...Object.entries(noticeFields(notice)).flat());
    const results = await pipeline.exec();
    const failed = results?.find(([error]) => error);
    if (failed?.[0]) throw failed[0];
  }

  async readNew(consumer: string, count: number, blockMs: number): Promise<Delivery[]> {
    const reply = (await this.redis.xreadgroup(
      'GROUP',
      this.group,
      consumer,
      'COUNT',
      count,
      'BLOCK',
      blockMs,
      'STREAMS',
      this.stream,
      '>',
    )) as Array<[string, RawEntry[]]> | null;
    const entries = reply?.[0]?.[1] ?? [];
    return entries.map((entry) => toDelivery(entry, 0));
  }

  async claimIdle(consumer: string, minIdleMs: number, count: number): Promise<Delivery[]> {
    const reply = (await this.redis.xautoclaim(
      this.stream,
      this.group,
      consumer,
      minIdleMs,
      '0-0',
      'COUNT',
      count,
    )) as [string, RawEntry[], string[]?];
    // Entries deleted while pending come back with null fields: they carry no notice.
    const entries = reply[1].filter((entry) => entry[1] !== null);
    const gone = reply[1].filter((entry) => entry[1] === null).map((entry) => entry[0]);
    if (gone.length > 0) await this.ack(gone);
    if (entries.length === 0) return [];
    const counts = await this.deliveryCounts(entries.map((entry) => entry[0]));
    // XAUTOCLAIM has already counted this delivery, so subtract the one toDelivery adds.
    return entries.map((entry) => toDelivery(entry, Math.max(0, (counts.get(entry[0]) ?? 1) - 1)));
  }

  private async deliveryCounts(ids: string[]): Promise<Map<string, number>> {
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.xpending(this.stream, this.group, id, id, 1);
    const results = (await pipeline.exec()) ?? [];
    const counts = new Map<string, number>();
    for (const [, reply] of results) {
      const row = (reply as Array<[string, string, number, number]> | undefined)?.[0];
      if (row) counts.set(row[0], Number(row[3]));
    }
    return counts;
  }

  async touch(consumer: string, ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    // JUSTID resets the idle time without counting another delivery.
    await this.redis.xclaim(this.stream, this.group, consumer, 0, ...ids, 'JUSTID');
  }

  /**
   * The deliveries of one applied batch finish in the same turn, each on its
   * own chain of promises; gathering the turn's acks before the first is
   * sent makes them one XACK (the Batcher then joins turns that come while
   * an XACK is in flight).
   */
  async ack(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    this.ackTurnIds.push(...ids);
    this.ackTurn ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
      const turn = this.ackTurnIds;
      this.ackTurnIds = [];
      this.ackTurn = undefined;
      return this.acks.add(turn);
    });
    await this.ackTurn;
  }

  private async xack(ids: readonly string[]): Promise<void> {
    if (ids.length > 0) await this.redis.xack(this.stream, this.group, ...ids);
  }

  async requeue(delivery: Delivery, retry: Retry): Promise<void> {
    await this.redis.eval(
      REQUEUE,
      1,
      this.stream,
      this.group,
      delivery.id,
      String(retry.deliveries),
      retry.notBefore === undefined ? '' : String(retry.notBefore),
      String(Math.max(0, Math.round(retry.delayMs ?? 0))),
      retry.error ?? '',
      ...payloadPairs(delivery.fields),
    );
  }

  async time(): Promise<number> {
    const [seconds, micros] = await this.redis.time();
    return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
  }

  async deadLetter(delivery: Delivery, error: string): Promise<void> {
    const notice = parseNotice(delivery.fields);
    await this.redis.eval(
      DEAD_LETTER,
      4,
      this.stream,
      this.deadLetterStream,
      this.deadLetterIndex,
      this.deadLetterAges,
      this.group,
      delivery.id,
      error,
      String(delivery.deliveries),
      String(Date.now()),
      String(this.deadLetterMaxLength),
      notice ? executionKey(notice.tenant, notice.executionId) : '',
      ...payloadPairs(delivery.fields),
    );
  }

  async removeDeadLettersOf(tenant: string, executionId: string): Promise<number> {
    const removed = await this.redis.eval(
      REMOVE_DEAD_LETTERS,
      3,
      this.deadLetterStream,
      this.deadLetterIndex,
      this.deadLetterAges,
      executionKey(tenant, executionId),
    );
    return Number(removed);
  }

  async listDeadLetters(count: number): Promise<DeadLetter[]> {
    const entries = (await this.redis.xrevrange(
      this.deadLetterStream,
      '+',
      '-',
      'COUNT',
      count,
    )) as RawEntry[];
    return entries.map(([id, flat]) => {
      const fields = fieldsOf(flat);
      return {
        id,
        fields: Object.fromEntries(
          Object.entries(fields).filter(([key]) => !key.startsWith(META_PREFIX)),
        ),
        error: fields._error ?? '',
        deliveries: Number(fields._deliveries ?? 0),
        deadAt: Number(fields._dead_at ?? 0),
      };
    });
  }

  async removeDeadLetter(id: string): Promise<void> {
    await this.redis.xdel(this.deadLetterStream, id);
  }

  async trimConsumed(): Promise<TrimResult> {
    const [removed, floor] = (await this.redis.eval(TRIM_CONSUMED, 1, this.stream)) as [
      number,
      string,
    ];
    return { removed: Number(removed), floor: floor === '' ? undefined : floor };
  }

  async leaveGroup(consumer: string): Promise<boolean> {
    const [outcome] = (await this.redis.eval(
      REMOVE_CONSUMER,
      1,
      this.stream,
      this.group,
      consumer,
    )) as [string, number];
    // Absent counts as left: a consumer that never read, or a group lost with an emptied Redis.
    return outcome !== 'refused';
  }

  async ping(): Promise<void> {
    await this.redis.ping();
  }
}
