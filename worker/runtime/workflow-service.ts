import { randomUUID } from 'node:crypto';
import { Value } from '@sinclair/typebox/value';
import { BadInputError, NotFoundError } from '../errors.js';
import type { EventRecord, EventStore, ExecutionRecord } from '../store/event-store.js';
import type { StreamTransport } from '../stream/transport.js';
import type { WorkflowDefinition } from '../workflow/definition.js';
import { initialState } from '../workflow/reducer.js';
import type { WorkflowRegistry } from '../workflow/registry.js';

export interface StartExecutionInput {
  tenant: string;
  workflow: string;
  executionId?: string;
  input?: unknown;
}

export interface EnqueueEventInput {
  tenant: string;
  executionId: string;
  event: string;
  payload?: unknown;
  idempotencyKey?: string;
  userId?: string;
}

export interface EnqueuedEvent {
  eventId: string;
  seq: number;
  duplicate: boolean;
}

export type PublishFailureListener = (error: unknown, eventId: string) => void;

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$/;

export function checkIdentifier(field: string, value: string): void {
  if (!ID_PATTERN.test(value)) {
    throw new BadInputError(
      field,
      'must be 1-200 characters of letters, digits, ".", "_", ":" or "-"',
    );
  }
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
  constructor(
    private readonly store: EventStore,
    private readonly transport: StreamTransport,
    private readonly registry: WorkflowRegistry,
    private readonly onPublishFailure: PublishFailureListener = () => {},
  ) {}

  async startExecution(request: StartExecutionInput): Promise<ExecutionRecord> {
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
    const execution = await this.store.getExecution(request.tenant, request.executionId);
    if (!execution) throw new NotFoundError(`execution ${request.executionId}`);
    const definition = this.registry.get(execution.workflowName, execution.workflowVersion);
    const payload = request.payload ?? {};
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

  private checkEvent(definition: WorkflowDefinition, event: string, payload: unknown): void {
    const spec = definition.events[event];
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
      await this.transport.publish([{ tenant, executionId, eventId }]);
      await this.store.markPublished(tenant, [eventId]);
    } catch (error) {
      this.onPublishFailure(error, eventId);
    }
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
}
