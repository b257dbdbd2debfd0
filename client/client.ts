import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import knexFactory, { type Knex } from 'knex';
import { BadInputError, type ErrorCode, errorCode, FlowpoolError } from '../core/errors.js';
import { checkStorable } from '../core/storable.js';
import { DEFAULT_CONSUMER_GROUP, DEFAULT_STREAM } from '../core/stream-names.js';
import { sleep } from '../core/timing.js';
import { backoffMs } from '../engine/backoff.js';
import {
  checkIdentifier,
  type EnqueueOutcome,
  WorkflowService,
} from '../engine/workflow-service.js';
import { PostgresEventStore } from '../store/postgres-event-store.js';
import { asUnavailable } from '../store/unavailable.js';
import {
  type EnqueuedEventView,
  type ExecutionView,
  executionView,
  type HistoryEntry,
  historyEntry,
  type StartedExecution,
  startedView,
} from '../store/views.js';
import { RedisStreamTransport } from '../stream/redis-stream-transport.js';
import { bundledWorkflows } from '../workflow/bundled/index.js';
import type { WorkflowDefinition } from '../workflow/definition.js';
import { WorkflowRegistry } from '../workflow/registry.js';

/**
 * Any workflow definition, whatever its state and data types. Definitions are
 * invariant in their data type (reducers both take and return it), so a list
 * of different workflows can only be typed this loosely.
 */
// biome-ignore lint/suspicious/noExplicitAny: see above
export type AnyWorkflowDefinition = WorkflowDefinition<any, any>;

/** The stream and group workers read unless configured otherwise. */
export { DEFAULT_CONSUMER_GROUP as DEFAULT_GROUP, DEFAULT_STREAM } from '../core/stream-names.js';

export interface FlowpoolClientOptions {
  /** PostgreSQL connection string (the database the workers use). */
  databaseUrl: string;
  /** Redis connection string. */
  redisUrl: string;
  /** Every call of this client acts for this tenant, and sees only its executions. */
  tenant: string;
  /** The workflows this application starts; defaults to the bundled examples. */
  workflows?: readonly AnyWorkflowDefinition[];
  /** Stream key the workers read: WORKFLOW_REDIS_STREAM_PREFIX + WORKFLOW_POOL. */
  stream?: string;
  /** The workers' consumer group (WORKFLOW_REDIS_CONSUMER_GROUP). */
  group?: string;
  /** Largest number of PostgreSQL connections this client opens (default 5). */
  maxConnections?: number;
  /**
   * Called when a notice could not be sent after its event committed. The
   * event is accepted all the same; the workers' relay sends the notice later.
   */
  onPublishFailure?: (error: unknown, eventId: string) => void;
  /**
   * Tries of one enqueue while PostgreSQL or Redis is unavailable (default 3;
   * 1 never retries). Every try sends the same idempotency key, so a try
   * whose commit went through but whose answer was lost is not added twice.
   */
  enqueueAttempts?: number;
}

export interface StartExecutionRequest<I = unknown> {
  workflow: string;
  /** Letters, digits, ".", "_", ":" or "-" (1-200); a UUID when omitted. */
  executionId?: string;
  input?: I;
}

export interface EnqueueEventRequest<P = unknown> {
  executionId: string;
  event: string;
  payload?: P;
  /**
   * A retry with the same key and payload returns the first event instead of
   * adding another. When omitted the client makes one up for this call and
   * reuses it across its own retries (see `enqueueAttempts`).
   */
  idempotencyKey?: string;
  userId?: string;
}

export interface EnqueueResult extends EnqueuedEventView {
  /** True when an earlier event with the same idempotency key was returned. */
  duplicate: boolean;
}

/** At most this many events in one enqueueEvents call. */
export const MAX_BULK_EVENTS = 10_000;

/**
 * One event's outcome in enqueueEvents: accepted (committed now), duplicate
 * (an earlier event with the same idempotency key and payload, whose id and
 * seq are returned), or error with the stable code it alone failed with
 * (`BAD_INPUT` naming `field`, `NOT_FOUND`, `IDEMPOTENCY_CONFLICT`,
 * `UNAVAILABLE` after the client's tries, `INTERNAL` for anything else).
 */
export type EnqueueItemResult =
  | { status: 'accepted' | 'duplicate'; eventId: string; seq: number }
  | { status: 'error'; code: ErrorCode | 'INTERNAL'; message: string; field?: string };

export interface HistoryOptions {
  /** Only events with a larger seq (default 0: from the start). */
  afterSeq?: number;
  /** At most this many events (1-1000, default 1000). */
  limit?: number;
}

/**
 * What an application embeds: start executions and enqueue events for one
 * tenant, and read their state and history. It writes the event rows and
 * sends the stream notices; the workers do the processing.
 */
export interface FlowpoolClient {
  readonly tenant: string;
  startExecution<D = unknown, I = unknown>(
    request: StartExecutionRequest<I>,
  ): Promise<StartedExecution<D>>;
  enqueueEvent<P = unknown>(request: EnqueueEventRequest<P>): Promise<EnqueueResult>;
  /**
   * Enqueues many events (of any executions of this tenant) in as few
   * commits as they fit (usually one): a result per request, in order. One
   * bad request fails only itself. Items the database or Redis could not take
   * are tried again like enqueueEvent's (see `enqueueAttempts`).
   */
  enqueueEvents<P = unknown>(
    requests: ReadonlyArray<EnqueueEventRequest<P>>,
  ): Promise<EnqueueItemResult[]>;
  getExecution<D = unknown>(executionId: string): Promise<ExecutionView<D> | undefined>;
  getHistory(executionId: string, options?: HistoryOptions): Promise<HistoryEntry[]>;
  /** Closes the PostgreSQL pool and the Redis connection. */
  close(): Promise<void>;
}

function checkWholeNumber(field: string, value: number | undefined, min: number, max: number) {
  if (value === undefined) return;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new BadInputError(field, `must be a whole number from ${min} to ${max}`);
  }
}

/** Runs `work`, turning connection failures into UnavailableError (code UNAVAILABLE). */
async function guarded<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw asUnavailable(error, 'PostgreSQL or Redis');
  }
}

/** Pause before retry `attempt` (1-based) of an enqueue: 100 ms doubling, up to 2 s, jittered. */
const ENQUEUE_RETRY_BASE_MS = 100;
const ENQUEUE_RETRY_MAX_MS = 2_000;

/**
 * Runs `work` up to `attempts` times while it fails with UNAVAILABLE. Hazard:
 * an outage can strike after the commit, before the answer arrives; `work`
 * must therefore be idempotent (an enqueue with a fixed idempotency key is).
 */
async function withRetries<T>(attempts: number, work: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      if (attempt >= attempts || errorCode(error) !== 'UNAVAILABLE') throw error;
      await sleep(backoffMs(attempt, ENQUEUE_RETRY_BASE_MS, ENQUEUE_RETRY_MAX_MS));
    }
  }
}

function itemResult(outcome: EnqueueOutcome, ownKey: boolean): EnqueueItemResult {
  if (outcome.ok) {
    const { eventId, seq, duplicate } = outcome.value;
    // A generated key can only repeat our own earlier try: to the caller it is new.
    return { status: duplicate && !ownKey ? 'duplicate' : 'accepted', eventId, seq };
  }
  const error = asUnavailable(outcome.error, 'PostgreSQL or Redis');
  if (error instanceof BadInputError) {
    return { status: 'error', code: error.code, message: error.message, field: error.field };
  }
  if (error instanceof FlowpoolError) {
    return { status: 'error', code: error.code, message: error.message };
  }
  // Never hand out what the database said: it may name internals.
  return { status: 'error', code: 'INTERNAL', message: 'the event could not be stored' };
}

/** Checks what the client checks of one request before it goes to the service. */
function checkRequest(request: EnqueueEventRequest): void {
  checkIdentifier('executionId', request.executionId);
  checkStorable('event', request.event);
  checkStorable('payload', request.payload);
  checkStorable('idempotencyKey', request.idempotencyKey);
  checkStorable('userId', request.userId);
}

/** Builds a client over its own PostgreSQL pool and Redis connection. */
export function createFlowpoolClient(options: FlowpoolClientOptions): FlowpoolClient {
  if (typeof options.tenant !== 'string' || options.tenant.trim() === '') {
    throw new BadInputError('tenant', 'must be a non-empty string');
  }
  checkStorable('tenant', options.tenant);
  const tenant = options.tenant;
  const enqueueAttempts = options.enqueueAttempts ?? 3;
  checkWholeNumber('enqueueAttempts', enqueueAttempts, 1, 20);
  const knex: Knex = knexFactory({
    client: 'pg',
    connection: options.databaseUrl,
    pool: { min: 0, max: options.maxConnections ?? 5 },
    acquireConnectionTimeout: 10_000,
  });
  // Few retries: while Redis is away an enqueue still commits, and the relay sends its notice later.
  const redis = new Redis(options.redisUrl, { maxRetriesPerRequest: 2, connectTimeout: 5_000 });
  redis.on('error', () => {
    // Connection errors surface on the commands that need Redis; ioredis reconnects by itself.
  });
  const transport = new RedisStreamTransport(
    redis,
    options.stream ?? DEFAULT_STREAM,
    options.group ?? DEFAULT_CONSUMER_GROUP,
  );
  const registry = new WorkflowRegistry(
    (options.workflows ?? bundledWorkflows) as readonly WorkflowDefinition[],
  );
  const service = new WorkflowService(
    new PostgresEventStore(knex),
    transport,
    registry,
    options.onPublishFailure,
  );
  let closed: Promise<void> | undefined;

  return {
    tenant,

    startExecution<D, I>(request: StartExecutionRequest<I>) {
      return guarded(async () => {
        if (request.executionId !== undefined) checkIdentifier('executionId', request.executionId);
        checkStorable('input', request.input);
        const record = await service.startExecution({
          tenant,
          workflow: request.workflow,
          executionId: request.executionId,
          input: request.input,
        });
        return startedView<D>(record);
      });
    },

    enqueueEvent<P>(request: EnqueueEventRequest<P>) {
      return guarded(async () => {
        checkRequest(request);
        // A key of our own, so that our retries (and only they) find the first try's event.
        const ownKey = request.idempotencyKey === undefined;
        const idempotencyKey = request.idempotencyKey ?? `client:${randomUUID()}`;
        const { eventId, seq, duplicate } = await withRetries(enqueueAttempts, () =>
          guarded(() => service.enqueueEvent({ tenant, ...request, idempotencyKey })),
        );
        // A generated key can only repeat our own earlier try: to the caller it is new.
        return { eventId, seq, duplicate: ownKey ? false : duplicate };
      });
    },

    async enqueueEvents<P>(requests: ReadonlyArray<EnqueueEventRequest<P>>) {
      if (!Array.isArray(requests) || requests.length > MAX_BULK_EVENTS) {
        throw new BadInputError('requests', `must be an array of at most ${MAX_BULK_EVENTS}`);
      }
      const results: EnqueueItemResult[] = new Array(requests.length);
      // Each item with a key, our own when the caller gave none, so a retry finds its first try.
      let waiting = requests.flatMap((request, index) => {
        try {
          checkRequest(request);
        } catch (error) {
          results[index] = itemResult({ ok: false, error }, false);
          return [];
        }
        const ownKey = request.idempotencyKey === undefined;
        const idempotencyKey = request.idempotencyKey ?? `client:${randomUUID()}`;
        return [{ index, ownKey, input: { tenant, ...request, idempotencyKey } }];
      });
      for (let attempt = 1; waiting.length > 0; attempt += 1) {
        const outcomes = await service.enqueueEvents(waiting.map((item) => item.input));
        const retry: typeof waiting = [];
        waiting.forEach((item, i) => {
          const outcome = outcomes[i]!;
          const unavailable =
            !outcome.ok &&
            errorCode(asUnavailable(outcome.error, 'PostgreSQL or Redis')) === 'UNAVAILABLE';
          if (unavailable && attempt < enqueueAttempts) retry.push(item);
          else results[item.index] = itemResult(outcome, item.ownKey);
        });
        waiting = retry;
        if (waiting.length > 0) {
          await sleep(backoffMs(attempt, ENQUEUE_RETRY_BASE_MS, ENQUEUE_RETRY_MAX_MS));
        }
      }
      return results;
    },

    getExecution<D>(executionId: string) {
      return guarded(async () => {
        checkIdentifier('executionId', executionId);
        const record = await service.getExecution(tenant, executionId);
        return record ? executionView<D>(record) : undefined;
      });
    },

    getHistory(executionId: string, historyOptions: HistoryOptions = {}) {
      return guarded(async () => {
        checkIdentifier('executionId', executionId);
        checkWholeNumber('afterSeq', historyOptions.afterSeq, 0, Number.MAX_SAFE_INTEGER);
        checkWholeNumber('limit', historyOptions.limit, 1, 1000);
        const events = await service.history(tenant, executionId, historyOptions);
        return events.map(historyEntry);
      });
    },

    close() {
      closed ??= (async () => {
        await knex.destroy();
        await redis.quit().catch(() => redis.disconnect());
      })();
      return closed;
    },
  };
}
