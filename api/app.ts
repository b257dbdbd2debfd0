import swagger from '@fastify/swagger';
import type { Static } from '@sinclair/typebox';
import Fastify, {
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { type ApiSettings, DEFAULT_API_SETTINGS } from '../core/config/api-settings.js';
import { BadInputError, NotFoundError, UnknownWorkflowError } from '../core/errors.js';
import type { DeadLetters } from '../engine/dead-letters.js';
import type { EnqueueOutcome, WorkflowService } from '../engine/workflow-service.js';
import type { InspectionStore, PingableStore } from '../store/event-store.js';
import { startedView } from '../store/views.js';
import type { StreamTransport } from '../stream/transport.js';
import { TokenAuthenticator } from './auth.js';
import { registerConsole } from './console.js';
import { type ConsoleSources, registerConsoleRoutes } from './console-routes.js';
import { executionDetail, historyDetail } from './detail-views.js';
import { eventErrorView, storedErrorView } from './error-view.js';
import {
  answerTo,
  errorBody,
  type HttpError,
  publicAnswer,
  RequestRefusedError,
  toHttpError,
  UNAVAILABLE,
} from './http-errors.js';
import { ApiMetrics } from './metrics.js';
import { type DocumentedWorkflows, LINKS, swaggerOptions } from './openapi.js';
import { askedOnce, dependencyReadiness, type Readiness } from './readiness.js';
import * as S from './schemas.js';
import { registerTenantLimits } from './tenant-limits.js';
import { validatorCompiler } from './validation.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set from the bearer token on every /v1 route; never taken from the request itself. */
    tenant: string;
  }
}

/** The engine's services the API uses (createEngine's result fits). */
export interface ApiServices {
  service: Pick<
    WorkflowService,
    | 'startExecution'
    | 'enqueueEvent'
    | 'enqueueEvents'
    | 'getExecution'
    | 'executionExists'
    | 'historyPage'
  >;
  store: Pick<InspectionStore, 'getEvent'> & PingableStore;
  deadLetters: Pick<DeadLetters, 'list' | 'retry'>;
  transport: Pick<StreamTransport, 'ping'>;
  /** When given, /openapi.json shows each registered workflow's exact bodies and /v1/workflows lists them. */
  registry?: DocumentedWorkflows;
  /** The reads behind the console's routes (console-routes.ts). */
  queries: ConsoleSources['queries'];
  streamBacklog: ConsoleSources['streamBacklog'];
}

export interface ApiAppOptions {
  runtime: ApiServices;
  /** token → tenant (ApiConfig.tokens) */
  tokens: ReadonlyMap<string, string>;
  logger: Logger;
  /** Where the API's metrics go; a fresh registry when omitted. /metrics serves this registry. */
  metricsRegistry?: Registry;
  /** What /readyz reports; by default PostgreSQL and Redis must answer a ping. */
  readiness?: Readiness;
  /** Bounds on what one caller may cost (ApiConfig.settings); DEFAULT_API_SETTINGS when omitted. */
  settings?: ApiSettings;
  /** The built web console to serve under /console (defaultConsoleDir()); none when omitted. */
  consoleDir?: string;
}

/** Largest request body accepted: 1 MiB. */
const BODY_LIMIT = 1_048_576;

const PUBLIC = { security: [] as Array<Record<string, string[]>> };

function send(reply: FastifyReply, answer: HttpError): FastifyReply {
  if (answer.status === 401) reply.header('www-authenticate', 'Bearer');
  const sent = publicAnswer(answer);
  return reply.code(sent.status).send(sent.body);
}

/**
 * Builds the HTTP API of the design on the engine's services: pure wiring,
 * no listening, no process concerns. Test it with `app.inject` or listen on
 * a port.
 */
export async function buildApiApp(options: ApiAppOptions): Promise<FastifyInstance> {
  const { runtime } = options;
  const settings = options.settings ?? DEFAULT_API_SETTINGS;
  const auth = new TokenAuthenticator(options.tokens);
  const operations =
    settings.operationsToken === undefined
      ? undefined
      : new TokenAuthenticator(new Map([[settings.operationsToken, 'operations']]));
  /** /metrics: the operations token; /openapi.json: it or a tenant's token. Open when unset. */
  const guardOperations =
    (tenantsToo: boolean) => async (request: FastifyRequest, reply: FastifyReply) => {
      if (operations === undefined) return;
      const header = request.headers.authorization;
      if (operations.tenantFor(header) !== undefined) return;
      if (tenantsToo && auth.tenantFor(header) !== undefined) return;
      return send(reply, {
        status: 401,
        body: errorBody('UNAUTHORIZED', 'send Authorization: Bearer <token> with a valid token'),
      });
    };
  const operationsSecurity = operations === undefined ? PUBLIC : { security: [{ bearerAuth: [] }] };
  const metrics = new ApiMetrics(options.metricsRegistry);
  const readiness =
    options.readiness ?? dependencyReadiness({ postgres: runtime.store, redis: runtime.transport });
  let closing = false;

  const app = Fastify({
    loggerInstance: options.logger,
    bodyLimit: BODY_LIMIT,
    // Execution ids are up to 200 characters, percent-encoding can triple them.
    routerOptions: { maxParamLength: 700 },
    requestTimeout: 30_000,
    return503OnClosing: false,
    // One line per request, written in onResponse below, instead of fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    frameworkErrors: (error, _request, reply) => {
      send(
        reply,
        toHttpError(error) ?? { status: 400, body: errorBody('BAD_REQUEST', 'bad request') },
      );
    },
  }) as unknown as FastifyInstance;

  app.decorateRequest('tenant', '');
  app.setValidatorCompiler(validatorCompiler);
  // Only JSON bodies: text/plain (accepted by default) becomes 415.
  app.removeContentTypeParser('text/plain');
  app.addSchema(S.ErrorBody);

  app.setErrorHandler(async (error, request, reply) => {
    const answer = await answerTo(error, readiness, request.log, 'request failed');
    if (answer.status < 500) {
      request.log.debug({ code: answer.body.error.code, status: answer.status }, 'request refused');
    }
    return send(reply, answer);
  });

  app.setNotFoundHandler((_request, reply) => {
    send(reply, { status: 404, body: errorBody('NOT_FOUND', 'no such route') });
  });

  // Paths the API serves, with their methods: another method on one of them is a 405.
  const routes: Array<{ pattern: RegExp; methods: Set<string> }> = [];
  app.addHook('onRoute', (route) => {
    const source = route.url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/:[A-Za-z]+/g, '[^/]+');
    const pattern = new RegExp(`^${source}$`);
    let entry = routes.find((known) => known.pattern.source === pattern.source);
    if (!entry) {
      entry = { pattern, methods: new Set() };
      routes.push(entry);
    }
    for (const method of [route.method].flat()) entry.methods.add(method);
  });

  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onRequest', async (request, reply) => {
    if (closing) {
      reply.header('connection', 'close');
      return send(reply, UNAVAILABLE);
    }
    if (request.routeOptions.url === undefined) {
      const path = request.url.split('?')[0] ?? '';
      const served = routes.find((route) => route.pattern.test(path));
      if (served && !served.methods.has(request.method)) {
        reply.header('allow', [...served.methods].sort().join(', '));
        return send(reply, {
          status: 405,
          body: errorBody('METHOD_NOT_ALLOWED', `${request.method} is not allowed here`),
        });
      }
    }
  });
  // fastify does not decompress: a compressed body would be read as if it were plain JSON.
  app.addHook('preParsing', async (request) => {
    const encoding = request.headers['content-encoding'];
    if (
      request.method !== 'GET' &&
      encoding !== undefined &&
      encoding.trim().toLowerCase() !== 'identity'
    ) {
      throw new RequestRefusedError(
        415,
        'UNSUPPORTED_MEDIA_TYPE',
        'send the body uncompressed (no Content-Encoding)',
      );
    }
  });
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const method = request.method;
    metrics.requests.inc({ method, route, status: String(reply.statusCode) });
    metrics.duration.observe({ method, route }, reply.elapsedTime / 1000);
    request.log.info(
      {
        method,
        route,
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime * 10) / 10,
        ...(request.tenant ? { tenant: request.tenant } : {}),
      },
      'request',
    );
  });

  await app.register(swagger, swaggerOptions(runtime.registry));

  app.get(
    '/healthz',
    {
      schema: {
        tags: ['operations'],
        operationId: 'healthz',
        summary: 'The process is alive',
        ...PUBLIC,
        response: { 200: { ...S.Health, description: 'Alive' } },
      },
    },
    async () => ({ status: 'ok' }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        tags: ['operations'],
        operationId: 'readyz',
        summary: 'PostgreSQL and Redis are reachable',
        ...PUBLIC,
        response: {
          200: { ...S.Readiness, description: 'Ready' },
          503: {
            ...S.Readiness,
            description: 'A dependency is unreachable, or the process is stopping',
          },
        },
      },
    },
    async (_request, reply) => {
      const report = await readiness();
      return reply
        .code(report.ready ? 200 : 503)
        .send({ status: report.ready ? 'ready' : 'unavailable', checks: report.checks });
    },
  );

  app.get(
    '/metrics',
    {
      schema: {
        tags: ['operations'],
        operationId: 'metrics',
        summary: 'Prometheus metrics',
        description: 'Needs the operations token when FLOWPOOL_OPERATIONS_TOKEN is set.',
        ...operationsSecurity,
        response: {
          200: {
            description: 'Prometheus text exposition format',
            content: { 'text/plain': { schema: { type: 'string' } } },
          },
          ...(operations ? { 401: S.errorResponses()[401] } : {}),
        },
      },
      onRequest: guardOperations(false),
    },
    async (_request, reply) => {
      const text = await metrics.registry.metrics();
      return reply.type(metrics.registry.contentType).send(text);
    },
  );

  app.get(
    '/openapi.json',
    {
      schema: {
        tags: ['operations'],
        operationId: 'openapi',
        summary: 'This OpenAPI document',
        description:
          "Needs the operations token or a tenant's token when FLOWPOOL_OPERATIONS_TOKEN is set.",
        ...operationsSecurity,
        response: {
          200: { type: 'object', additionalProperties: true, description: 'OpenAPI 3.0 document' },
          ...(operations ? { 401: S.errorResponses()[401] } : {}),
        },
      },
      onRequest: guardOperations(true),
    },
    async (_request, reply) => reply.type('application/json').send(JSON.stringify(app.swagger())),
  );

  if (options.consoleDir !== undefined) {
    const { files } = registerConsole(app, options.consoleDir, (reply) =>
      send(reply, {
        status: 404,
        body: errorBody('CONSOLE_NOT_BUILT', 'the console is not built: run npm run build'),
      }),
    );
    if (files === 0) options.logger.warn('the console is not built: /console answers 404');
  }

  await app.register(async (v1) => {
    v1.addHook('onRequest', async (request, reply) => {
      const tenant = auth.tenantFor(request.headers.authorization);
      if (tenant === undefined) {
        return send(reply, {
          status: 401,
          body: errorBody('UNAUTHORIZED', 'send Authorization: Bearer <token> with a valid token'),
        });
      }
      request.tenant = tenant;
    });
    await registerTenantLimits(v1, settings.tenants);
    registerV1Routes(v1, runtime, metrics, settings, readiness);
    registerConsoleRoutes(v1, runtime, settings.historyPageBytes, readiness);
  });

  return app;
}

type BatchItem =
  | { status: 'accepted' | 'duplicate'; eventId: string; seq: number }
  | { status: 'error'; httpStatus: number; error: HttpError['body']['error'] };

/**
 * One event's result in a batch: what the single enqueue would have answered
 * for it, as public as that answer (no internal text in a 5xx).
 */
async function batchItem(
  outcome: EnqueueOutcome,
  readiness: Readiness,
  request: FastifyRequest,
): Promise<BatchItem> {
  if (outcome.ok) {
    const { eventId, seq, duplicate } = outcome.value;
    return { status: duplicate ? 'duplicate' : 'accepted', eventId, seq };
  }
  const answer = await answerTo(outcome.error, readiness, request.log, 'batch item failed');
  const sent = publicAnswer(answer);
  return { status: 'error', httpStatus: sent.status, error: sent.body.error };
}

type Req<T extends { Body?: unknown; Params?: unknown; Querystring?: unknown }> = FastifyRequest<{
  Body: T['Body'];
  Params: T['Params'];
  Querystring: T['Querystring'];
}>;

function registerV1Routes(
  app: FastifyInstance,
  runtime: ApiServices,
  metrics: ApiMetrics,
  settings: ApiSettings,
  readiness: Readiness,
): void {
  const { service } = runtime;
  const limits = settings.sizes;

  app.post(
    '/v1/executions',
    {
      schema: {
        tags: ['executions'],
        operationId: 'startExecution',
        summary: 'Start an execution',
        body: S.StartExecutionBody,
        response: {
          201: { ...S.StartedExecution, description: 'Started, in its initial state' },
          ...S.errorResponses(409, 413, 415),
        },
      },
      links: LINKS.started,
    },
    async (request: Req<{ Body: Static<typeof S.StartExecutionBody> }>, reply) => {
      const { workflow, executionId, input } = request.body;
      let record: Awaited<ReturnType<typeof service.startExecution>>;
      try {
        record = await service.startExecution({
          tenant: request.tenant,
          workflow,
          executionId,
          input,
          limits,
        });
      } catch (error) {
        if (error instanceof UnknownWorkflowError) {
          throw new BadInputError('workflow', `${workflow} is not a registered workflow`);
        }
        throw error;
      }
      metrics.started.inc();
      reply.header('location', `/v1/executions/${encodeURIComponent(record.executionId)}`);
      return reply.code(201).send(startedView(record));
    },
  );

  app.post(
    '/v1/executions/:executionId/events',
    {
      schema: {
        tags: ['executions'],
        operationId: 'enqueueEvent',
        summary: 'Enqueue an event (applied asynchronously)',
        description:
          'Accepted once its row commits. A repeated idempotencyKey with the same event and ' +
          'payload returns the first eventId; with another payload it is a 409.',
        params: S.ExecutionParams,
        body: S.EnqueueEventBody,
        response: {
          202: { ...S.EnqueuedEvent, description: 'Accepted: committed, workers will apply it' },
          ...S.errorResponses(409, 413, 415),
        },
      },
      links: LINKS.enqueued,
    },
    async (
      request: Req<{
        Params: Static<typeof S.ExecutionParams>;
        Body: Static<typeof S.EnqueueEventBody>;
      }>,
      reply,
    ) => {
      const { event, payload, idempotencyKey } = request.body;
      const result = await service.enqueueEvent({
        tenant: request.tenant,
        executionId: request.params.executionId,
        event,
        payload,
        idempotencyKey,
        limits,
      });
      metrics.enqueued.inc({ result: result.duplicate ? 'duplicate' : 'new' });
      reply.header('location', `/v1/events/${result.eventId}`);
      return reply.code(202).send({ eventId: result.eventId, seq: result.seq });
    },
  );

  app.post(
    '/v1/events/batch',
    {
      schema: {
        tags: ['executions'],
        operationId: 'enqueueEvents',
        summary: 'Enqueue many events at once (applied asynchronously)',
        description:
          `Up to ${S.MAX_BATCH_EVENTS} events of any of the tenant's executions, committed ` +
          'together. Each event gets its own result, in order: accepted, duplicate (a ' +
          'repeated idempotencyKey with the same event and payload: the first eventId), or ' +
          'error with the status and body the single enqueue would have answered. One bad ' +
          'event fails only itself. A malformed body is a 400 for the whole request; when ' +
          'nothing could be committed because PostgreSQL or Redis is down, a 503. The batch ' +
          "counts as one request against the tenant's rate and in-flight limits.",
        body: S.EnqueueBatchBody,
        response: {
          200: { ...S.EnqueueBatchResult, description: 'A result per event, in order' },
          ...S.errorResponses(413, 415),
        },
      },
    },
    async (request: Req<{ Body: Static<typeof S.EnqueueBatchBody> }>, reply) => {
      const outcomes = await service.enqueueEvents(
        request.body.events.map((item) => ({
          tenant: request.tenant,
          executionId: item.executionId,
          event: item.event,
          payload: item.payload,
          idempotencyKey: item.idempotencyKey,
          limits,
        })),
      );
      const results = [];
      const readinessOfRequest = askedOnce(readiness);
      for (const outcome of outcomes) {
        const result = await batchItem(outcome, readinessOfRequest, request);
        if (result.status !== 'error')
          metrics.enqueued.inc({ result: result.status === 'duplicate' ? 'duplicate' : 'new' });
        results.push(result);
      }
      // Nothing stored and the store is down: one answer a caller can retry as a whole.
      const committed = results.some((result) => result.status !== 'error');
      if (!committed && results.some((r) => r.status === 'error' && r.httpStatus === 503)) {
        return send(reply, UNAVAILABLE);
      }
      return reply.code(200).send({ results });
    },
  );

  app.get(
    '/v1/executions/:executionId',
    {
      schema: {
        tags: ['executions'],
        operationId: 'getExecution',
        summary: 'Current state of an execution',
        params: S.ExecutionParams,
        response: {
          200: { ...S.Execution, description: 'State as of the last applied event' },
          ...S.errorResponses(),
        },
      },
    },
    async (request: Req<{ Params: Static<typeof S.ExecutionParams> }>) => {
      const { executionId } = request.params;
      const record = await service.getExecution(request.tenant, executionId);
      if (!record) throw new NotFoundError(`execution ${executionId}`);
      return executionDetail(record);
    },
  );

  app.get(
    '/v1/executions/:executionId/events',
    {
      schema: {
        tags: ['executions'],
        operationId: 'listEvents',
        summary: 'History of an execution, in seq order',
        description:
          'A page holds at most `limit` events and about FLOWPOOL_HISTORY_PAGE_BYTES of ' +
          'payload (always at least one event). When more events follow, `nextAfterSeq` is ' +
          'set: ask again with afterSeq = nextAfterSeq.',
        params: S.ExecutionParams,
        querystring: S.HistoryQuery,
        response: {
          200: { ...S.History, description: 'Events in seq order' },
          ...S.errorResponses(),
        },
      },
    },
    async (
      request: Req<{
        Params: Static<typeof S.ExecutionParams>;
        Querystring: Static<typeof S.HistoryQuery>;
      }>,
    ) => {
      const { executionId } = request.params;
      if (!(await service.executionExists(request.tenant, executionId))) {
        throw new NotFoundError(`execution ${executionId}`);
      }
      const page = await service.historyPage(request.tenant, executionId, {
        afterSeq: request.query.afterSeq ?? 0,
        limit: request.query.limit ?? 100,
        maxBytes: settings.historyPageBytes,
      });
      const last = page.events.at(-1);
      return {
        events: page.events.map(historyDetail),
        ...(page.more && last ? { nextAfterSeq: last.seq } : {}),
      };
    },
  );

  app.get(
    '/v1/events/:eventId',
    {
      schema: {
        tags: ['executions'],
        operationId: 'getEvent',
        summary: 'One event and what became of it',
        params: S.EventParams,
        response: { 200: { ...S.EventView, description: 'The event' }, ...S.errorResponses() },
      },
    },
    async (request: Req<{ Params: Static<typeof S.EventParams> }>) => {
      const { eventId } = request.params;
      const event = await runtime.store.getEvent(request.tenant, eventId);
      if (!event) throw new NotFoundError(`event ${eventId}`);
      return {
        eventId: event.eventId,
        executionId: event.executionId,
        status: event.status,
        ...eventErrorView(event),
      };
    },
  );

  app.get(
    '/v1/dead-letters',
    {
      schema: {
        tags: ['dead-letters'],
        operationId: 'listDeadLetters',
        summary: 'Dead-lettered events, newest first',
        querystring: S.DeadLettersQuery,
        response: {
          200: { ...S.DeadLetters, description: "The tenant's dead letters" },
          ...S.errorResponses(),
        },
      },
    },
    async (request: Req<{ Querystring: Static<typeof S.DeadLettersQuery> }>) => {
      const dead = await runtime.deadLetters.list(request.tenant, request.query.limit ?? 100);
      return {
        deadLetters: dead.map((event) => {
          const why = storedErrorView(event.error) ?? eventErrorView(event);
          return {
            eventId: event.eventId,
            executionId: event.executionId,
            seq: event.seq,
            event: event.name,
            status: event.status,
            error: why?.error ?? null,
            errorCode: why?.errorCode ?? null,
          };
        }),
      };
    },
  );

  app.post(
    '/v1/dead-letters/:eventId/retry',
    {
      schema: {
        tags: ['dead-letters'],
        operationId: 'retryDeadLetter',
        summary: 'Put a dead event back to pending and notify the workers',
        params: S.EventParams,
        response: {
          202: { ...S.RetriedDeadLetter, description: 'Pending again; workers will pick it up' },
          ...S.errorResponses(409),
        },
      },
    },
    async (request: Req<{ Params: Static<typeof S.EventParams> }>, reply) => {
      const { eventId } = request.params;
      // Without Redis the notice cannot go out: refuse before changing anything.
      await runtime.transport.ping();
      const { executionId } = await runtime.deadLetters.retry(request.tenant, eventId);
      return reply.code(202).send({ eventId, executionId });
    },
  );
}
