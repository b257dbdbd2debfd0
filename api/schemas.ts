import { type TSchema, Type } from '@sinclair/typebox';

/** Route schemas: fastify validates requests with them and @fastify/swagger documents them. */

import { ID_PATTERN } from '../core/identifiers.js';

/** Strings PostgreSQL can store: no NUL character. */
export const NO_NUL_PATTERN = '^[^\\u0000]*$';
const UUID_PATTERN =
  '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';

const nullableString = (description: string) =>
  Type.Unsafe<string | null>({ type: 'string', nullable: true, description });

export const ExecutionId = Type.String({
  pattern: ID_PATTERN,
  description: 'Letters, digits, ".", "_", ":" or "-"; 1-200 characters',
  examples: ['T-1042'],
});
export const EventId = Type.String({
  pattern: UUID_PATTERN,
  description: 'The UUID the API returned when the event was enqueued',
});

export const ExecutionParams = Type.Object({ executionId: ExecutionId });
export const EventParams = Type.Object({ eventId: EventId });

export const ErrorBody = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: 'Stable error code, e.g. BAD_INPUT, NOT_FOUND' }),
      message: Type.String(),
      field: Type.Optional(
        Type.String({ description: 'The request field that is wrong (400 only)' }),
      ),
    }),
  },
  { $id: 'Error', title: 'Error' },
);

const errorResponse = (description: string) => ({ ...Type.Ref('Error'), description });

/** The error answers every authenticated route can give. */
export function errorResponses(...statuses: number[]): Record<number, TSchema> {
  const descriptions: Record<number, string> = {
    400: 'Bad input; `error.field` names what is wrong',
    401: 'Missing or invalid bearer token',
    404: 'Not found (also for another tenant’s execution)',
    409:
      'Conflict: EXECUTION_EXISTS, IDEMPOTENCY_CONFLICT, NOT_DEAD, or UNKNOWN_WORKFLOW (the ' +
      'execution runs a workflow version this API does not have)',
    413:
      'Too large: BODY_TOO_LARGE (body over 1 MiB), PAYLOAD_TOO_LARGE (event payload over ' +
      'FLOWPOOL_MAX_EVENT_PAYLOAD_BYTES, 64 KiB by default) or DATA_TOO_LARGE (execution data ' +
      'over FLOWPOOL_MAX_EXECUTION_DATA_BYTES, 256 KiB by default)',
    415: 'Body is not application/json',
    429:
      "Over the tenant's bound: RATE_LIMITED (requests per minute) or TOO_MANY_IN_FLIGHT " +
      '(requests at once); wait for Retry-After seconds',
    503: 'PostgreSQL or Redis unavailable',
  };
  const responses: Record<number, TSchema> = {};
  for (const status of [400, 401, 404, ...statuses, 429, 503]) {
    responses[status] = errorResponse(descriptions[status] ?? 'Error') as unknown as TSchema;
  }
  return responses;
}

export const StartExecutionBody = Type.Object(
  {
    workflow: Type.String({
      minLength: 1,
      maxLength: 200,
      pattern: NO_NUL_PATTERN,
      description: 'Name of a registered workflow',
      examples: ['ticket-lifecycle'],
    }),
    executionId: Type.Optional(ExecutionId),
    input: Type.Optional(
      Type.Unknown({ description: "Start input, checked against the workflow's input schema" }),
    ),
  },
  { additionalProperties: false },
);

export const StartedExecution = Type.Object({
  executionId: Type.String(),
  workflow: Type.String(),
  state: Type.String(),
  data: Type.Unknown(),
});

export const ExecutionStatus = Type.Union([
  Type.Literal('active'),
  Type.Literal('completed'),
  Type.Literal('blocked'),
]);

export const Execution = Type.Object({
  executionId: Type.String(),
  workflow: Type.String(),
  state: Type.String(),
  data: Type.Unknown(),
  status: ExecutionStatus,
  appliedSeq: Type.Integer({ minimum: 0 }),
  version: Type.Integer({ minimum: 1, description: 'Version of the workflow it runs' }),
  nextSeq: Type.Integer({ minimum: 1, description: 'The seq the next enqueued event gets' }),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
});

const eventFields = {
  event: Type.String({
    minLength: 1,
    maxLength: 200,
    pattern: NO_NUL_PATTERN,
    examples: ['comment'],
  }),
  payload: Type.Optional(
    Type.Unknown({ description: "Checked against the event's payload schema" }),
  ),
  idempotencyKey: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 200,
      pattern: NO_NUL_PATTERN,
      description: 'A retry with the same key and payload returns the first eventId',
    }),
  ),
};

export const EnqueueEventBody = Type.Object(eventFields, { additionalProperties: false });

export const EnqueuedEvent = Type.Object({
  eventId: Type.String({ format: 'uuid' }),
  seq: Type.Integer({ minimum: 1 }),
});

/** Most events one POST /v1/events/batch carries (the body is also held to 1 MiB). */
export const MAX_BATCH_EVENTS = 500;

export const EnqueueBatchBody = Type.Object(
  {
    events: Type.Array(
      Type.Object({ executionId: ExecutionId, ...eventFields }, { additionalProperties: false }),
      {
        minItems: 1,
        maxItems: MAX_BATCH_EVENTS,
        description: `1-${MAX_BATCH_EVENTS} events, of any executions of the tenant`,
      },
    ),
  },
  { additionalProperties: false },
);

const committedItem = (status: 'accepted' | 'duplicate', description: string) =>
  Type.Object(
    {
      status: Type.Literal(status),
      eventId: Type.String({ format: 'uuid' }),
      seq: Type.Integer({ minimum: 1 }),
    },
    { description },
  );

export const EnqueueBatchResult = Type.Object({
  results: Type.Array(
    Type.Union([
      committedItem('accepted', 'Committed now; workers will apply it'),
      committedItem(
        'duplicate',
        'An earlier event with the same idempotencyKey and payload: its eventId and seq',
      ),
      Type.Object(
        {
          status: Type.Literal('error'),
          httpStatus: Type.Integer({
            description: 'What POST /v1/executions/{executionId}/events would have answered',
          }),
          error: Type.Object({
            code: Type.String({
              description:
                'BAD_INPUT, PAYLOAD_TOO_LARGE, NOT_FOUND, IDEMPOTENCY_CONFLICT, ' +
                'UNKNOWN_WORKFLOW, UNAVAILABLE or INTERNAL',
            }),
            message: Type.String(),
            field: Type.Optional(Type.String()),
          }),
        },
        { description: 'This event alone was refused; nothing of it was stored' },
      ),
    ]),
    { description: 'One result per event, in the order sent' },
  ),
});

export const EventStatus = Type.Union([
  Type.Literal('pending'),
  Type.Literal('applied'),
  Type.Literal('rejected'),
  Type.Literal('dead'),
]);

export const HistoryQuery = Type.Object({
  afterSeq: Type.Optional(
    Type.Integer({
      minimum: 0,
      maximum: Number.MAX_SAFE_INTEGER,
      description: 'Only events with a larger seq (default 0)',
    }),
  ),
  limit: Type.Optional(
    Type.Integer({ minimum: 1, maximum: 1000, description: 'Page size (default 100)' }),
  ),
});

export const HistoryEvent = Type.Object({
  eventId: Type.String({ format: 'uuid' }),
  seq: Type.Integer({ minimum: 1 }),
  event: Type.String(),
  payload: Type.Unknown(),
  status: EventStatus,
  fromState: nullableString('State before the event; null while pending'),
  toState: nullableString('State after the event; null while pending or when rejected'),
  reason: nullableString(
    'Why it was rejected or dead-lettered (credentials removed); null otherwise',
  ),
  createdAt: Type.String({ format: 'date-time', description: 'When it was enqueued' }),
  appliedAt: nullableString('When it was applied or rejected; null while pending'),
});

export const History = Type.Object({
  events: Type.Array(HistoryEvent),
  nextAfterSeq: Type.Optional(
    Type.Integer({
      minimum: 1,
      description:
        'Present when more events follow this page: the afterSeq of the next request. ' +
        'A page ends at `limit` events or at the byte bound, whichever comes first.',
    }),
  ),
});

export const EventView = Type.Object({
  eventId: Type.String({ format: 'uuid' }),
  executionId: Type.String(),
  status: EventStatus,
  error: Type.Optional(
    Type.String({
      description: 'Why the event was rejected, or the last processing error (credentials removed)',
    }),
  ),
  errorCode: Type.Optional(
    Type.String({
      description:
        'Stable code for `error`: REJECTED (the workflow refused the event), a worker error ' +
        'code such as ACTION_FAILED or WORKFLOW_CODE, INTERNAL, or PROCESSING_FAILED when ' +
        'the stored error names no code',
    }),
  ),
});

export const DeadLettersQuery = Type.Object({
  limit: Type.Optional(
    Type.Integer({ minimum: 1, maximum: 1000, description: 'At most this many (default 100)' }),
  ),
});

export const DeadLetter = Type.Object({
  eventId: Type.String({ format: 'uuid' }),
  executionId: Type.String(),
  seq: Type.Integer({ minimum: 1 }),
  event: Type.String(),
  status: EventStatus,
  error: nullableString('The error that dead-lettered it (credentials removed)'),
  errorCode: nullableString('Stable code of `error` (as for GET /v1/events/{eventId})'),
});

export const DeadLetters = Type.Object({ deadLetters: Type.Array(DeadLetter) });

export const RetriedDeadLetter = Type.Object({
  eventId: Type.String({ format: 'uuid' }),
  executionId: Type.String(),
});

export const Health = Type.Object({ status: Type.String() });

export const Readiness = Type.Object({
  status: Type.Union([Type.Literal('ready'), Type.Literal('unavailable')]),
  checks: Type.Record(Type.String(), Type.String()),
});
