import type { Static } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { BadInputError } from '../core/errors.js';
import { isIdentifier } from '../core/identifiers.js';
import type {
  ExecutionFilter,
  ExecutionQueries,
  ListedExecution,
  ListPosition,
} from '../store/execution-queries.js';
import * as C from './console-schemas.js';
import { decodeCursor, encodeCursor, fieldsOf } from './cursor.js';
import { isoInstantText, isPgTimestamp } from './instant.js';
import * as S from './schemas.js';

type Queries = Pick<ExecutionQueries, 'list' | 'counts'>;
type FilterQuery = Static<typeof C.ExecutionCountsQuery>;

function instant(field: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const time = isoInstantText(value);
  if (time === undefined) throw new BadInputError(field, 'is not a valid ISO 8601 time');
  return time;
}

/** The query's filters as the store takes them. */
export function filterOf(query: FilterQuery): ExecutionFilter {
  const filter: ExecutionFilter = {
    workflow: query.workflow,
    state: query.state,
    status: query.status,
    blocked: query.blocked === undefined ? undefined : query.blocked === 'true',
    createdAfter: instant('createdAfter', query.createdAfter),
    createdBefore: instant('createdBefore', query.createdBefore),
    idPrefix: query.q,
  };
  return Object.fromEntries(
    Object.entries(filter).filter(([, value]) => value !== undefined),
  ) as ExecutionFilter;
}

function listPosition(value: unknown): ListPosition | undefined {
  const fields = fieldsOf(value);
  const createdAt = fields?.c;
  const executionId = fields?.i;
  if (typeof createdAt !== 'string' || !isPgTimestamp(createdAt)) return undefined;
  if (typeof executionId !== 'string' || !isIdentifier(executionId)) return undefined;
  return { createdAt, executionId };
}

function listedView(row: ListedExecution): Static<typeof C.ListedExecution> {
  return {
    executionId: row.executionId,
    workflow: row.workflowName,
    version: row.workflowVersion,
    state: row.state,
    status: row.status,
    blocked: row.blocked,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
    appliedSeq: row.appliedSeq,
    nextSeq: row.nextSeq,
  };
}

/** GET /v1/executions and GET /v1/executions/counts: a tenant's executions, filtered. */
export function registerExecutionListRoutes(app: FastifyInstance, queries: Queries): void {
  app.get(
    '/v1/executions',
    {
      schema: {
        tags: ['executions'],
        operationId: 'listExecutions',
        summary: "The tenant's executions, newest first, filtered",
        description:
          'Ordered by createdAt desc, then executionId desc. When more follow, `nextCursor` ' +
          'is set: ask again with cursor = nextCursor (and the same filters) to get the next ' +
          'page; every execution appears on exactly one page.',
        querystring: C.ExecutionListQuery,
        response: {
          200: { ...C.ExecutionList, description: 'One page of executions' },
          ...S.errorResponses(),
        },
      },
    },
    async (request: FastifyRequest<{ Querystring: Static<typeof C.ExecutionListQuery> }>) => {
      const { cursor, limit, ...filters } = request.query;
      const after = cursor === undefined ? undefined : decodeCursor(cursor, listPosition);
      const page = await queries.list(request.tenant, filterOf(filters), {
        limit: limit ?? 50,
        ...(after ? { after } : {}),
      });
      const last = page.executions.at(-1);
      return {
        items: page.executions.map(listedView),
        nextCursor:
          page.more && last
            ? encodeCursor({ c: last.position.createdAt, i: last.position.executionId })
            : null,
      };
    },
  );

  app.get(
    '/v1/executions/counts',
    {
      schema: {
        tags: ['executions'],
        operationId: 'countExecutions',
        summary: "How many of the tenant's executions are in each state and status",
        description: `Takes the filters of GET /v1/executions. byState holds at most ${C.MAX_STATE_GROUPS} groups, largest first.`,
        querystring: C.ExecutionCountsQuery,
        response: {
          200: { ...C.ExecutionCounts, description: 'Counts of the filtered executions' },
          ...S.errorResponses(),
        },
      },
    },
    async (request: FastifyRequest<{ Querystring: FilterQuery }>) =>
      queries.counts(request.tenant, filterOf(request.query), C.MAX_STATE_GROUPS),
  );
}
