import type { Static } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { NotFoundError } from '../core/errors.js';
import type { ActionPosition, ActionRecord, ExecutionQueries } from '../store/execution-queries.js';
import type { ApiServices } from './app.js';
import * as C from './console-schemas.js';
import { decodeCursor, encodeCursor, fieldsOf } from './cursor.js';
import { storedErrorView } from './error-view.js';
import * as S from './schemas.js';

type Queries = Pick<ExecutionQueries, 'actions' | 'snapshots'>;

const ActionsQuery = C.PageQuery(200, 50);
const SnapshotsQuery = C.PageQuery(100, 20);

type PageRequest = FastifyRequest<{
  Params: Static<typeof S.ExecutionParams>;
  Querystring: Static<typeof ActionsQuery>;
}>;

const isSeq = (value: unknown): value is number =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;

function actionPosition(value: unknown): ActionPosition | undefined {
  const fields = fieldsOf(value);
  return isSeq(fields?.s) && isSeq(fields?.a) ? { seq: fields.s, id: fields.a } : undefined;
}

function snapshotPosition(value: unknown): number | undefined {
  const seq = fieldsOf(value)?.s;
  return isSeq(seq) ? seq : undefined;
}

function actionView(action: ActionRecord): Static<typeof C.ActionView> {
  const why = storedErrorView(action.error);
  return {
    eventId: action.eventId,
    seq: action.seq,
    event: action.eventName,
    action: action.actionName,
    status: action.status,
    attempts: action.attempts,
    result: action.result,
    error: why?.error ?? null,
    errorCode: why?.errorCode ?? null,
    createdAt: action.createdAt.toISOString(),
    updatedAt: action.updatedAt.toISOString(),
  };
}

/** GET /v1/executions/:id/actions and /snapshots: what the execution page shows beside history. */
export function registerExecutionPartRoutes(
  app: FastifyInstance,
  runtime: Pick<ApiServices, 'service'>,
  queries: Queries,
  pageBytes: number,
): void {
  /** Another tenant's execution is as absent as one that never existed. */
  const mustExist = async (tenant: string, executionId: string) => {
    if (!(await runtime.service.getExecution(tenant, executionId))) {
      throw new NotFoundError(`execution ${executionId}`);
    }
  };

  app.get(
    '/v1/executions/:executionId/actions',
    {
      schema: {
        tags: ['executions'],
        operationId: 'listActions',
        summary: "An execution's actions with their attempts and outcomes",
        description:
          'In event seq order. A page holds at most `limit` actions and about ' +
          'FLOWPOOL_HISTORY_PAGE_BYTES of results and errors (always at least one).',
        params: S.ExecutionParams,
        querystring: ActionsQuery,
        response: {
          200: { ...C.ActionList, description: 'One page of actions' },
          ...S.errorResponses(),
        },
      },
    },
    async (request: PageRequest) => {
      const { executionId } = request.params;
      const { cursor, limit } = request.query;
      const after = cursor === undefined ? undefined : decodeCursor(cursor, actionPosition);
      await mustExist(request.tenant, executionId);
      const page = await queries.actions(request.tenant, executionId, {
        limit: limit ?? 50,
        maxBytes: pageBytes,
        ...(after ? { after } : {}),
      });
      const last = page.items.at(-1);
      return {
        items: page.items.map(actionView),
        nextCursor:
          page.more && last ? encodeCursor({ s: last.position.seq, a: last.position.id }) : null,
      };
    },
  );

  app.get(
    '/v1/executions/:executionId/snapshots',
    {
      schema: {
        tags: ['executions'],
        operationId: 'listSnapshots',
        summary: "An execution's snapshots, newest first",
        description:
          'The snapshot at seq 0 is the initial state. A page holds at most `limit` ' +
          'snapshots and about FLOWPOOL_HISTORY_PAGE_BYTES of data (always at least one).',
        params: S.ExecutionParams,
        querystring: SnapshotsQuery,
        response: {
          200: { ...C.SnapshotList, description: 'One page of snapshots' },
          ...S.errorResponses(),
        },
      },
    },
    async (request: PageRequest) => {
      const { executionId } = request.params;
      const { cursor, limit } = request.query;
      const beforeSeq = cursor === undefined ? undefined : decodeCursor(cursor, snapshotPosition);
      await mustExist(request.tenant, executionId);
      const page = await queries.snapshots(request.tenant, executionId, {
        limit: limit ?? 20,
        maxBytes: pageBytes,
        ...(beforeSeq === undefined ? {} : { beforeSeq }),
      });
      const last = page.items.at(-1);
      return {
        items: page.items.map((snapshot) => ({
          seq: snapshot.seq,
          state: snapshot.state,
          data: snapshot.data,
          createdAt: snapshot.createdAt.toISOString(),
        })),
        nextCursor: page.more && last ? encodeCursor({ s: last.seq }) : null,
      };
    },
  );
}
