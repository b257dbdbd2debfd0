import { randomUUID } from 'node:crypto';
import { Value } from '@sinclair/typebox/value';
import { checkSize, DEFAULT_SIZE_LIMITS, type SizeLimits } from '../client/limits.js';
import { BadInputError, NotFoundError } from '../errors.js';
import { IDENTIFIER_RULE, isIdentifier } from '../identifiers.js';
import type {
  EventRecord,
  EventStore,
  ExecutionRecord,
  HistoryPage,
} from '../store/event-store.js';
import { Batcher } from '../stream/batcher.js';
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

export type PublishFailureListener = (error: unknown, eventId: string) => void;

const WORKFLOW_CACHE_SIZE = 100_000;

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
 */
export class WorkflowService {
  /**
   * Which workflow each execution runs: fixed at its start, so a cached
   * entry never goes stale. Saves a read per enqueue; whether the execution
   * still exists is settled by the insert itself.
   */
  private readonly workflows = new Map<string, { name: string; version: number }>();
  /** Notices of commits that finish together go out in one pipeline, and are marked in one update. */
  private readonly notices: Batcher<Notice & { eventId: string }>;

  constructor(
    private readonly store: EventStore,
    private readonly transport: StreamTransport,
    private readonly registry: WorkflowRegistry,
    private readonly onPublishFailure: PublishFailureListener = () => {},
  ) {
    this.notices = new Batcher((notices) => this.publishBatch(notices));
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
    return this.store.createExecution({
      tenant: request.tenant,
      executionId,
      workflowName: definition.name,
      workflowVersion: definition.version,
      state: start.state,
      data: start.data,
    });
  }

  async enqueueEvent(request: EnqueueEventInput): Promise<EnqueuedEvent> {
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
    const appended = await this.store.appendEvent({
      tenant: request.tenant,
      executionId: request.executionId,
      eventId: randomUUID(),
      name: request.event,
      payload,
      idempotencyKey: request.idempotencyKey ?? null,
      userId: request.userId ?? null,
    });
    if (!appended.duplicate)
      await this.publish(request.tenant, request.executionId, appended.eventId);
    return appended;
  }

  private async workflowOf(
    tenant: string,
    executionId: string,
  ): Promise<{ name: string; version: number }> {
    const key = `${tenant}\u0000${executionId}`;
    const known = this.workflows.get(key);
    if (known) return known;
    const execution = await this.store.getExecution(tenant, executionId);
    if (!execution) throw new NotFoundError(`execution ${executionId}`);
    const workflow = { name: execution.workflowName, version: execution.workflowVersion };
    if (this.workflows.size >= WORKFLOW_CACHE_SIZE) {
      const oldest = this.workflows.keys().next().value;
      if (oldest !== undefined) this.workflows.delete(oldest);
    }
    this.workflows.set(key, workflow);
    return workflow;
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
   * Runs after the commit, never inside it. A failure here loses nothing: the
   * row stays unpublished and the relay sends the notice later.
   */
  private async publish(tenant: string, executionId: string, eventId: string): Promise<void> {
    try {
      await this.notices.add({ tenant, executionId, eventId });
    } catch (error) {
      this.onPublishFailure(error, eventId);
    }
  }

  private async publishBatch(notices: ReadonlyArray<Notice & { eventId: string }>): Promise<void> {
    await this.transport.publish(notices);
    const byTenant = new Map<string, string[]>();
    for (const notice of notices) {
      const ids = byTenant.get(notice.tenant) ?? [];
      ids.push(notice.eventId);
      byTenant.set(notice.tenant, ids);
    }
    for (const [tenant, ids] of byTenant) await this.store.markPublished(tenant, ids);
  }

  getExecution(tenant: string, executionId: string): Promise<ExecutionRecord | undefined> {
    return this.store.getExecution(tenant, executionId);
  }

  history(
    tenant: string,
    executionId: string,
    options?: { afterSeq?: number; limit?: number },
  ): Promise<EventRecord[]> {
    return this.store.history(tenant, executionId, options);
  }

  /** A page of history bounded by count and by payload bytes (see EventStore.historyPage). */
  historyPage(
    tenant: string,
    executionId: string,
    options: { afterSeq: number; limit: number; maxBytes: number },
  ): Promise<HistoryPage> {
    return this.store.historyPage(tenant, executionId, options);
  }
}
