import type { Static, TSchema } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { NotFoundError } from '../core/errors.js';
import type {
  ActionPosition,
  ActionRecord,
  ExecutionQueries,
  PageBounds,
  Paged,
  SnapshotRecord,
} from '../store/execution-queries.js';
import type { ApiServices } from './app.js';
import * as C from './console-schemas.js';
import { decodeCursor, encodeCursor, fieldsOf } from './cursor.js';
import { storedErrorView } from './error-view.js';
import * as S from './schemas.js';

type Queries = Pick<ExecutionQueries, 'actions' | 'snapshots'>;

type PageRequest = FastifyRequest<{
  Params: Static<typeof S.ExecutionParams>;
  Querystring: Static<ReturnType<typeof C.PageQuery>>;
}>;

/** One paged list of an execution's parts: its documentation, its cursor and its read. */
interface PartList<Item, Position> {
  part: 'actions' | 'snapshots';
  operationId: string;
  summary: string;
  description: string;
  /** Largest and default page size. */
  limits: { max: number; fallback: number };
  list: TSchema;
  /** The cursor's fields decoded, or undefined when they are not a position. */
  position: (fields: unknown) => Position | undefined;
  read: (
    tenant: string,
    executionId: string,
    bounds: PageBounds,
    from: Position | undefined,
  ) => Promise<Paged<Item>>;
  view: (item: Item) => unknown;
  /** The cursor's fields for the page after `last`. */
  cursor: (last: Item) => Record<string, number>;
}

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

function snapshotView(snapshot: SnapshotRecord): Static<typeof C.SnapshotView> {
  return {
    seq: snapshot.seq,
    state: snapshot.state,
    data: snapshot.data,
    createdAt: snapshot.createdAt.toISOString(),
  };
}

function actionsList(queries: Queries): PartList<ActionRecord, ActionPosition> {
  return {
    part: 'actions',
    operationId: 'listActions',
    summary: "An execution's actions with their attempts and outcomes",
    description:
      'In event seq order. A page holds at most `limit` actions and about ' +
      'FLOWPOOL_HISTORY_PAGE_BYTES of results and errors (always at least one).',
    limits: { max: 200, fallback: 50 },
    list: { ...C.ActionList, description: 'One page of actions' },
    position: actionPosition,
    read: (tenant, executionId, bounds, after) =>
      queries.actions(tenant, executionId, { ...bounds, ...(after ? { after } : {}) }),
    view: actionView,
    cursor: (last) => ({ s: last.position.seq, a: last.position.id }),
  };
}

function snapshotsList(queries: Queries): PartList<SnapshotRecord, number> {
  return {
    part: 'snapshots',
    operationId: 'listSnapshots',
    summary: "An execution's snapshots, newest first",
    description:
      'The snapshot at seq 0 is the initial state. A page holds at most `limit` ' +
      'snapshots and about FLOWPOOL_HISTORY_PAGE_BYTES of data (always at least one).',
    limits: { max: 100, fallback: 20 },
    list: { ...C.SnapshotList, description: 'One page of snapshots' },
    position: snapshotPosition,
    read: (tenant, executionId, bounds, beforeSeq) =>
      queries.snapshots(tenant, executionId, {
        ...bounds,
        ...(beforeSeq === undefined ? {} : { beforeSeq }),
      }),
    view: snapshotView,
    cursor: (last) => ({ s: last.seq }),
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
    if (!(await runtime.service.executionExists(tenant, executionId))) {
      throw new NotFoundError(`execution ${executionId}`);
    }
  };

  const register = <Item, Position>(list: PartList<Item, Position>) =>
    app.get(
      `/v1/executions/:executionId/${list.part}`,
      {
        schema: {
          tags: ['executions'],
          operationId: list.operationId,
          summary: list.summary,
          description: list.description,
          params: S.ExecutionParams,
          querystring: C.PageQuery(list.limits.max, list.limits.fallback),
          response: { 200: list.list, ...S.errorResponses() },
        },
      },
      async (request: PageRequest) => {
        const { executionId } = request.params;
        const { cursor, limit } = request.query;
        const from = cursor === undefined ? undefined : decodeCursor(cursor, list.position);
        await mustExist(request.tenant, executionId);
        const bounds = { limit: limit ?? list.limits.fallback, maxBytes: pageBytes };
        const page = await list.read(request.tenant, executionId, bounds, from);
        const last = page.items.at(-1);
        return {
          items: page.items.map(list.view),
          nextCursor: page.more && last ? encodeCursor(list.cursor(last)) : null,
        };
      },
    );
  register(actionsList(queries));
  register(snapshotsList(queries));
}
