import type { FastifyInstance } from 'fastify';
import type { ExecutionQueries } from '../store/execution-queries.js';
import type { ApiServices } from './app.js';
import * as C from './console-schemas.js';
import { registerDeadLetterRetryRoute } from './dead-letter-retry-route.js';
import { registerExecutionListRoutes } from './execution-list-routes.js';
import { registerExecutionPartRoutes } from './execution-part-routes.js';
import type { Readiness } from './readiness.js';
import * as S from './schemas.js';
import { registerStreamRoutes, type StreamBacklog } from './stream-routes.js';
import { workflowList } from './workflow-view.js';

/** What the console's routes read beyond the rest of the API. */
export interface ConsoleSources {
  queries: Pick<ExecutionQueries, 'list' | 'counts' | 'actions' | 'snapshots' | 'decided'>;
  /** The pool's stream backlog with its consumers. */
  streamBacklog: StreamBacklog;
}

/**
 * The /v1 routes the web console reads (issue #15): execution lists and
 * counts, an execution's actions and snapshots, the loaded workflows, stream
 * health, and retrying a selection of dead letters. Registered in the /v1
 * scope, so the bearer token, rate limit and in-flight bound apply as to
 * every other route.
 */
export function registerConsoleRoutes(
  app: FastifyInstance,
  runtime: ApiServices,
  pageBytes: number,
  readiness: Readiness,
): void {
  registerExecutionListRoutes(app, runtime.queries);
  registerExecutionPartRoutes(app, runtime, runtime.queries, pageBytes);
  registerStreamRoutes(app, runtime.streamBacklog, runtime.queries);
  registerDeadLetterRetryRoute(app, runtime, readiness);

  // Every registry is complete before the API is built and never grows after: list it once.
  const workflows = { items: workflowList(runtime.registry?.definitions() ?? []) };

  app.get(
    '/v1/workflows',
    {
      schema: {
        tags: ['workflows'],
        operationId: 'listWorkflows',
        summary: 'The workflow definitions this API has loaded',
        description:
          'Each version: its states, events with their payload schemas, and the declared ' +
          "transitions (a from of '*' expanded to every non-final state; guards are code, " +
          'shown only as `guarded`).',
        response: {
          200: { ...C.WorkflowList, description: 'Loaded definitions' },
          ...S.errorResponses(),
        },
      },
    },
    async () => workflows,
  );
}
