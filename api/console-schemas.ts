import { Type } from '@sinclair/typebox';
import { ID_PATTERN } from '../core/identifiers.js';
import { MAX_CURSOR_CHARS } from './cursor.js';
import { EventId, ExecutionStatus, NO_NUL_PATTERN } from './schemas.js';

/** Schemas of the routes the web console reads: lists, counts, workflows, stream health. */

/** Most groups GET /v1/executions/counts returns by workflow and state. */
export const MAX_STATE_GROUPS = 500;
/** Most events one POST /v1/dead-letters/retry names. */
export const MAX_RETRY_EVENTS = 100;

/** ISO 8601: a date, or a date and time with a zone (Z or ±hh:mm). */
const ISO_8601 =
  '^[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]{1,6})?)?(Z|[+-][0-9]{2}:[0-9]{2}))?$';

const Timestamp = Type.String({ format: 'date-time', description: 'ISO 8601, UTC' });
const nullable = <T extends Record<string, unknown>>(schema: T, description: string) =>
  Type.Unsafe<unknown>({ ...schema, nullable: true, description });

const Cursor = Type.String({
  minLength: 1,
  maxLength: MAX_CURSOR_CHARS,
  pattern: '^[A-Za-z0-9_-]+$',
  description: 'nextCursor of the previous page',
});

const name = (description: string) =>
  Type.String({ minLength: 1, maxLength: 200, pattern: NO_NUL_PATTERN, description });

export const ExecutionFilterQuery = {
  workflow: Type.Optional(name('Only executions of this workflow')),
  state: Type.Optional(name('Only executions in this state')),
  status: Type.Optional(ExecutionStatus),
  blocked: Type.Optional(
    Type.Union([Type.Literal('true'), Type.Literal('false')], {
      description:
        'true: only executions that need a person (status blocked, a dead-lettered event or ' +
        'action, or an event failing right now); false: only the others',
    }),
  ),
  createdAfter: Type.Optional(
    Type.String({ pattern: ISO_8601, description: 'Created at or after (ISO 8601)' }),
  ),
  createdBefore: Type.Optional(
    Type.String({ pattern: ISO_8601, description: 'Created before (ISO 8601)' }),
  ),
  q: Type.Optional(
    Type.String({
      pattern: ID_PATTERN,
      description: 'Execution id prefix (letters, digits, ".", "_", ":" or "-")',
    }),
  ),
};

export const ExecutionListQuery = Type.Object(
  {
    ...ExecutionFilterQuery,
    limit: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 200, description: 'Page size (default 50)' }),
    ),
    cursor: Type.Optional(Cursor),
  },
  { additionalProperties: false },
);

export const ExecutionCountsQuery = Type.Object(ExecutionFilterQuery, {
  additionalProperties: false,
});

const NextCursor = nullable(
  { type: 'string' },
  'Pass as `cursor` for the next page; null on the last page',
);

export const ListedExecution = Type.Object({
  executionId: Type.String(),
  workflow: Type.String(),
  version: Type.Integer({ minimum: 1 }),
  state: Type.String(),
  status: ExecutionStatus,
  blocked: Type.Boolean({
    description:
      'Needs a person: status blocked, a dead-lettered event or action, or an event failing now',
  }),
  createdAt: Timestamp,
  updatedAt: Timestamp,
  appliedSeq: Type.Integer({ minimum: 0 }),
  nextSeq: Type.Integer({ minimum: 1 }),
});

export const ExecutionList = Type.Object({
  items: Type.Array(ListedExecution, {
    description: 'Newest first: createdAt desc, then executionId desc',
  }),
  nextCursor: NextCursor,
});

export const ExecutionCounts = Type.Object({
  byState: Type.Array(
    Type.Object({
      workflow: Type.String(),
      state: Type.String(),
      count: Type.Integer({ minimum: 1 }),
    }),
    { description: `Largest first; at most ${MAX_STATE_GROUPS} groups` },
  ),
  byStatus: Type.Array(Type.Object({ status: ExecutionStatus, count: Type.Integer() })),
  blocked: Type.Integer({ minimum: 0, description: 'How many of them are blocked' }),
  truncated: Type.Boolean({ description: 'byState was cut at its bound' }),
});

export const PageQuery = (max: number, fallback: number) =>
  Type.Object(
    {
      limit: Type.Optional(
        Type.Integer({ minimum: 1, maximum: max, description: `Page size (default ${fallback})` }),
      ),
      cursor: Type.Optional(Cursor),
    },
    { additionalProperties: false },
  );

export const ActionView = Type.Object({
  eventId: Type.String({ format: 'uuid' }),
  seq: Type.Integer({ minimum: 1, description: 'Seq of the event whose transition asked for it' }),
  event: Type.String(),
  action: Type.String(),
  status: Type.Union([Type.Literal('pending'), Type.Literal('succeeded'), Type.Literal('failed')]),
  attempts: Type.Integer({ minimum: 0 }),
  result: Type.Unknown({ description: 'What the action returned; null until it succeeds' }),
  error: nullable({ type: 'string' }, 'Last error (credentials removed)'),
  errorCode: nullable({ type: 'string' }, 'Stable code of `error`'),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});

export const ActionList = Type.Object({
  items: Type.Array(ActionView, {
    description: 'In event seq order, then the order they were recorded',
  }),
  nextCursor: NextCursor,
});

export const SnapshotView = Type.Object({
  seq: Type.Integer({ minimum: 0, description: 'Events applied up to this seq; 0 is the start' }),
  state: Type.String(),
  data: Type.Unknown(),
  createdAt: Timestamp,
});

export const SnapshotList = Type.Object({
  items: Type.Array(SnapshotView, { description: 'Newest first (seq desc)' }),
  nextCursor: NextCursor,
});

export const WorkflowList = Type.Object({
  items: Type.Array(
    Type.Object({
      name: Type.String(),
      version: Type.Integer({ minimum: 1 }),
      initialState: Type.String(),
      states: Type.Array(Type.String()),
      finalStates: Type.Array(Type.String()),
      events: Type.Array(
        Type.Object({
          name: Type.String(),
          payloadSchema: nullable(
            { type: 'object', additionalProperties: true },
            "JSON Schema of the event's payload; null when it carries none",
          ),
        }),
      ),
      transitions: Type.Array(
        Type.Object({
          from: Type.String(),
          event: Type.String(),
          to: Type.String({ description: 'Equals from when the event keeps the state' }),
          guarded: Type.Boolean({ description: 'A guard may reject the event at run time' }),
          actions: Type.Array(Type.String()),
        }),
        { description: "Declared pairs; a from of '*' is expanded to every non-final state" },
      ),
      actions: Type.Array(
        Type.Object({
          name: Type.String(),
          onFailure: nullable({ type: 'string' }, 'Event fed back when the action fails for good'),
        }),
      ),
    }),
    { description: 'Every loaded version: name asc, then version desc' },
  ),
});

export const StreamHealth = Type.Object({
  backlog: Type.Object(
    {
      lag: nullable({ type: 'integer' }, 'Notices not yet delivered; null when unreadable'),
      pending: nullable(
        { type: 'integer' },
        'Delivered, not yet acknowledged; null when unreadable',
      ),
      readOk: Type.Boolean(),
      errorCode: Type.Optional(Type.String({ description: 'Why Redis could not be read' })),
    },
    { description: "The pool's stream, shared by every tenant" },
  ),
  consumers: Type.Array(
    Type.Object({
      name: Type.String({ description: 'Worker id' }),
      pending: Type.Integer({ minimum: 0 }),
      idleMs: Type.Integer({ minimum: 0 }),
    }),
    { description: 'At most 200, most pending first' },
  ),
  applied: Type.Array(
    Type.Object({
      at: Timestamp,
      count: Type.Integer({ minimum: 0, description: 'Events applied in the bucket' }),
      rejected: Type.Integer({ minimum: 0, description: 'Events rejected in the bucket' }),
    }),
    { description: "This tenant's events per bucket over the last 10 minutes, oldest first" },
  ),
  bucketSeconds: Type.Integer({ minimum: 1 }),
});

export const RetryDeadLettersBody = Type.Object(
  {
    eventIds: Type.Array(EventId, {
      minItems: 1,
      maxItems: MAX_RETRY_EVENTS,
      uniqueItems: true,
      description: `1-${MAX_RETRY_EVENTS} distinct event ids`,
    }),
  },
  { additionalProperties: false },
);

export const RetryDeadLettersResult = Type.Object({
  results: Type.Array(
    Type.Union([
      Type.Object({
        eventId: Type.String(),
        status: Type.Literal('retried'),
        executionId: Type.String(),
      }),
      Type.Object({
        eventId: Type.String(),
        status: Type.Literal('error'),
        httpStatus: Type.Integer(),
        error: Type.Object({ code: Type.String(), message: Type.String() }),
      }),
    ]),
    { description: 'One per event id, in the order sent' },
  ),
});
