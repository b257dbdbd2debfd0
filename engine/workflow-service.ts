import { randomUUID } from 'node:crypto';
import { Value } from '@sinclair/typebox/value';
import { BadInputError, NotFoundError } from '../core/errors.js';
import { IDENTIFIER_RULE, isIdentifier } from '../core/identifiers.js';
import { checkSize, DEFAULT_SIZE_LIMITS, type SizeLimits } from '../core/limits.js';
import type {
  AppendResult,
  AppendStore,
  EventRecord,
  EventRef,
  ExecutionKey,
  ExecutionRecord,
  HistoryPage,
  HistoryStore,
  NewEvent,
} from '../store/event-store.js';
import { GroupBatcher, type Settled } from '../stream/batcher.js';
import type { Notice, StreamTransport } from '../stream/transport.js';
import { declaredEvent, type WorkflowDefinition } from '../workflow/definition.js';
import { initialState } from '../workflow/reducer.js';
import type { WorkflowRegistry } from '../workflow/registry.js';

export interface StartExecutionInput {
  tenant: string;
  workflow: string;
  executionId?: string;
  input?: unknown;
  /** Byte bounds to hold the start to; DEFAULT_SIZE_LIMITS when omitted. */
  limits?: SizeLimits;
}

export interface EnqueueEventInput {
  tenant: string;
  executionId: string;
  event: string;
  payload?: unknown;
  idempotencyKey?: string;
  userId?: string;
  /** Byte bounds to hold the event to; DEFAULT_SIZE_LIMITS when omitted. */
  limits?: SizeLimits;
}

export interface EnqueuedEvent {
  eventId: string;
  seq: number;
  duplicate: boolean;
}

/** One item's outcome in enqueueEvents: its event, or the error it alone was refused with. */
export type EnqueueOutcome = Settled<EnqueuedEvent>;

export type PublishFailureListener = (error: unknown, eventId: string) => void;

export interface WorkflowServiceOptions {
  /** Most events one group commit carries (default 1000). */
  maxBatch?: number;
  /** Group commits in flight at once, over disjoint executions (default 1). */
  maxInFlight?: number;
}

const WORKFLOW_CACHE_SIZE = 100_000;
const DEFAULT_MAX_BATCH = 1_000;
const DEFAULT_COMMITS_IN_FLIGHT = 1;

/**
 * An execution's name as a map key. Tenants are identifiers (no NUL), so
 * the NUL between the parts keeps every name distinct.
 */
function nameOf(key: ExecutionKey): string {
  return `${key.tenant}\u0000${key.executionId}`;
}

export function checkIdentifier(field: string, value: string): void {
  if (!isIdentifier(value)) throw new BadInputError(field, IDENTIFIER_RULE);
}

function firstSchemaError(schema: Parameters<typeof Value.Errors>[0], value: unknown): string {
  const first = Value.Errors(schema, value).First();
  if (!first) return 'does not match the schema';
  return `${first.path || '/'} ${first.message}`;
}

/**
 * The write side an application talks to: start executions and enqueue
 * events. Enqueue is a transactional outbox: the event is accepted once its
 * row commits; the stream notice is sent after the commit, and the relay
 * resends it if that send fails.
 *
 * Enqueues group-commit: calls arriving while a commit is in flight go
 * together in the next one (one statement, one transaction), then their
 * notices go out in one XADD pipeline, one per execution. The rows are
 * written already marked published (the notices go out next), so no second
 * transaction marks them. Hazard: a notice that fails to go out has its mark
 * cleared before the callers hear back, and the relay resends it after
 * unpublishedAfterMs; if the process dies between the commit and the XADD
 * (or the clearing fails too), the row looks published and the relay resends
 * its notice only after republishAfterMs. Either way a lost notice delays
 * work, never loses it.
 */
export class WorkflowService {
  /**
   * Which workflow each execution runs: fixed at its start, so a cached
   * entry never goes stale. Saves a read per enqueue; whether the execution
   * still exists is settled by the insert itself.
   */
  private readonly workflows = new Map<string, { name: string; version: number }>();
  /**
   * Lookups in flight, so concurrent enqueues to one new execution read it
   * once; lookups of different executions made together share one read.
   */
  private readonly loading = new Map<string, Promise<{ name: string; version: number }>>();
  private readonly appends: GroupBatcher<NewEvent, EnqueuedEvent>;
  private readonly lookups: GroupBatcher<ExecutionKey, { name: string; version: number }>;

  constructor(
    private readonly store: AppendStore & HistoryStore,
    private readonly transport: StreamTransport,
    private readonly registry: WorkflowRegistry,
    private readonly onPublishFailure: PublishFailureListener = () => {},
    options: WorkflowServiceOptions = {},
  ) {
    this.lookups = new GroupBatcher((keys) => this.lookUp(keys), { maxBatch: DEFAULT_MAX_BATCH });
    this.appends = new GroupBatcher((events) => this.groupCommit(events), {
      maxBatch: options.maxBatch ?? DEFAULT_MAX_BATCH,
      // More than one commit at once is allowed over disjoint executions (calls to one
      // execution commit in the order they came); on a busy 2-core machine one at a time,
      // carrying more, did better (docs/benchmarks.md).
      maxInFlight: options.maxInFlight ?? DEFAULT_COMMITS_IN_FLIGHT,
      keyOf: (event) => nameOf(event),
    });
  }

  async startExecution(request: StartExecutionInput): Promise<ExecutionRecord> {
    // A tenant the stream notice could not carry would strand its events.
    checkIdentifier('tenant', request.tenant);
    const definition = this.registry.latest(request.workflow);
    const executionId = request.executionId ?? randomUUID();
    checkIdentifier('executionId', executionId);
    if (
      definition.input &&
      request.input !== undefined &&
      !Value.Check(definition.input, request.input)
    ) {
      throw new BadInputError('input', firstSchemaError(definition.input, request.input));
    }
    const start = initialState(definition, request.input ?? {});
    // The data is what every later read and replay of the execution carries.
    const limits = request.limits ?? DEFAULT_SIZE_LIMITS;
    checkSize('input', start.data, limits.executionDataBytes, 'DATA_TOO_LARGE');
    const created = await this.store.createExecution({
      tenant: request.tenant,
      executionId,
      workflowName: definition.name,
      workflowVersion: definition.version,
      state: start.state,
      data: start.data,
    });
    this.remember(nameOf({ tenant: request.tenant, executionId }), {
      name: definition.name,
      version: definition.version,
    });
    return created;
  }

  /** Enqueues one event; it shares its commit with the enqueues in flight with it. */
  async enqueueEvent(request: EnqueueEventInput): Promise<EnqueuedEvent> {
    return this.appends.add(await this.prepare(request));
  }

  /**
   * Enqueues many events (of any executions) together: one result per
   * request, in order. Each is checked and committed on its own terms: a bad
   * request, an unknown execution or a reused idempotency key fails only
   * itself. The rest go in one group commit (more when over maxBatch).
   */
  async enqueueEvents(requests: readonly EnqueueEventInput[]): Promise<EnqueueOutcome[]> {
    const prepared = await Promise.all(
      requests.map((request) =>
        this.prepare(request).then(
          (event): Settled<NewEvent> => ({ ok: true, value: event }),
          (error: unknown): Settled<NewEvent> => ({ ok: false, error }),
        ),
      ),
    );
    const valid: NewEvent[] = [];
    for (const item of prepared) if (item.ok) valid.push(item.value);
    const committed = await this.appends.addAll(valid);
    let next = 0;
    return prepared.map((item) => (item.ok ? committed[next++]! : item));
  }

  /** Checks a request and makes its event, before it joins a group commit. */
  private async prepare(request: EnqueueEventInput): Promise<NewEvent> {
    checkIdentifier('tenant', request.tenant);
    const workflow = await this.workflowOf(request.tenant, request.executionId);
    const definition = this.registry.get(workflow.name, workflow.version);
    const payload = request.payload ?? {};
    // Before the schema: the bound holds for events that declare none.
    const limits = request.limits ?? DEFAULT_SIZE_LIMITS;
    checkSize('payload', payload, limits.eventPayloadBytes, 'PAYLOAD_TOO_LARGE');
    this.checkEvent(definition, request.event, payload);
    if (
      request.idempotencyKey !== undefined &&
      (request.idempotencyKey.length === 0 || request.idempotencyKey.length > 200)
    ) {
      throw new BadInputError('idempotencyKey', 'must be 1-200 characters');
    }
    return {
      tenant: request.tenant,
      executionId: request.executionId,
      eventId: randomUUID(),
      name: request.event,
      payload,
      idempotencyKey: request.idempotencyKey ?? null,
      userId: request.userId ?? null,
    };
  }

  private async workflowOf(
    tenant: string,
    executionId: string,
  ): Promise<{ name: string; version: number }> {
    const key = nameOf({ tenant, executionId });
    const known = this.workflows.get(key);
    if (known) return known;
    const inFlight = this.loading.get(key);
    if (inFlight) return inFlight;
    const loading = this.lookups.add({ tenant, executionId }).finally(() => {
      this.loading.delete(key);
    });
    this.loading.set(key, loading);
    return loading;
  }

  /** One read for the executions not yet known that concurrent enqueues name. */
  private async lookUp(
    keys: ExecutionKey[],
  ): Promise<Array<Settled<{ name: string; version: number }>>> {
    const found = new Map<string, { name: string; version: number }>();
    for (const row of await this.store.workflowsOf(keys)) {
      const workflow = { name: row.workflowName, version: row.workflowVersion };
      const key = nameOf(row);
      this.remember(key, workflow);
      found.set(key, workflow);
    }
    return keys.map((k) => {
      const workflow = found.get(nameOf(k));
      return workflow
        ? { ok: true, value: workflow }
        : { ok: false, error: new NotFoundError(`execution ${k.executionId}`) };
    });
  }

  private remember(key: string, workflow: { name: string; version: number }): void {
    if (this.workflows.size >= WORKFLOW_CACHE_SIZE) {
      const oldest = this.workflows.keys().next().value;
      if (oldest !== undefined) this.workflows.delete(oldest);
    }
    this.workflows.set(key, workflow);
  }

  private checkEvent(definition: WorkflowDefinition, event: string, payload: unknown): void {
    const spec = declaredEvent(definition, event);
    if (!spec) {
      const known = Object.keys(definition.events).join(', ');
      throw new BadInputError(
        'event',
        `unknown event ${event} for workflow ${definition.name} (known: ${known})`,
      );
    }
    if (spec.payload && !Value.Check(spec.payload, payload)) {
      throw new BadInputError('payload', firstSchemaError(spec.payload, payload));
    }
  }

  /**
   * One group commit: the events in one transaction, then their notices.
   * Nothing goes to Redis before the commit, so a notice never names an
   * event that might not exist.
   */
  private async groupCommit(events: NewEvent[]): Promise<Array<Settled<EnqueuedEvent>>> {
    const results = await this.store.appendEvents(events);
    await this.publishNew(events, results);
    return results.map((result) =>
      'error' in result ? { ok: false, error: result.error } : { ok: true, value: result },
    );
  }

  /**
   * Runs after the commit, never inside it: one notice per execution that
   * took new events (the catch-up applies all of them), in one pipeline. A
   * failure here loses nothing: the rows' published marks are cleared and
   * the relay sends their notices later.
   */
  private async publishNew(events: NewEvent[], results: AppendResult[]): Promise<void> {
    const fresh: EventRef[] = [];
    const notices = new Map<string, Notice>();
    events.forEach((event, index) => {
      const result = results[index]!;
      if ('error' in result || result.duplicate) return;
      fresh.push({ tenant: event.tenant, eventId: result.eventId });
      const key = nameOf(event);
      if (!notices.has(key)) {
        notices.set(key, {
          tenant: event.tenant,
          executionId: event.executionId,
          eventId: result.eventId,
        });
      }
    });
    if (notices.size === 0) return;
    try {
      await this.transport.publish([...notices.values()]);
    } catch (error) {
      // If this fails too, the relay still resends them, after its longer republish period.
      await this.store.clearPublished(fresh).catch(() => {});
      for (const ref of fresh) this.onPublishFailure(error, ref.eventId);
    }
  }

  getExecution(tenant: string, executionId: string): Promise<ExecutionRecord | undefined> {
    return this.store.getExecution(tenant, executionId);
  }

  /** For routes that read beside an execution (history, actions): a key lookup, not its row. */
  executionExists(tenant: string, executionId: string): Promise<boolean> {
    return this.store.executionExists(tenant, executionId);
  }

  history(
    tenant: string,
    executionId: string,
    options?: { afterSeq?: number; limit?: number },
  ): Promise<EventRecord[]> {
    return this.store.history(tenant, executionId, options);
  }

  /** A page of history bounded by count and by payload bytes (see HistoryStore.historyPage). */
  historyPage(
    tenant: string,
    executionId: string,
    options: { afterSeq: number; limit: number; maxBytes: number },
  ): Promise<HistoryPage> {
    return this.store.historyPage(tenant, executionId, options);
  }
}
