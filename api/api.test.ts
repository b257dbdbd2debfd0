import { Redis } from 'ioredis';
import knexFactory from 'knex';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { freePort } from '../local/process.js';
import { RedisServer } from '../local/redis-server.js';
import { withGetExecution } from '../test/support/api-services.js';
import { type TestRedis, testRedis } from '../test/support/isolation.js';
import { silentLogger, startTestRuntime, type TestRuntime } from '../test/support/runtime.js';
import { createRuntime, DEFAULT_RUNTIME_SETTINGS } from '../worker/runtime/runtime.js';
import { bundledWorkflows } from '../workflow/bundled/index.js';
import { WorkflowRegistry } from '../workflow/registry.js';
import { buildApiApp } from './app.js';

type App = Awaited<ReturnType<typeof buildApiApp>>;

const ACME = 'acme-token-0001';
const GLOBEX = 'globex-token-0001';
const TOKENS = new Map([
  [ACME, 'acme'],
  [GLOBEX, 'globex'],
]);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface Call {
  token?: string | null;
  body?: unknown;
  headers?: Record<string, string>;
}

function call(app: App, method: 'GET' | 'POST', url: string, options: Call = {}) {
  const token = options.token === undefined ? ACME : options.token;
  return app.inject({
    method,
    url,
    headers: {
      ...(token === null ? {} : { authorization: `Bearer ${token}` }),
      ...options.headers,
    },
    ...(options.body === undefined
      ? {}
      : { payload: options.body as Record<string, unknown> | string }),
  });
}

async function rowCounts(rt: TestRuntime): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of [
    'workflow_executions',
    'workflow_events',
    'workflow_event_processing',
    'workflow_snapshots',
    'workflow_action_results',
  ]) {
    const [row] = await rt.db.knex(table).count({ count: '*' });
    counts[table] = Number(row?.count);
  }
  return counts;
}

describe('HTTP API', () => {
  let rt: TestRuntime;
  let app: App;

  beforeAll(async () => {
    rt = await startTestRuntime();
    app = await buildApiApp({ runtime: rt, tokens: TOKENS, logger: silentLogger });
  });
  afterAll(async () => {
    await app.close();
    await rt.close();
  });

  const start = async (body: Record<string, unknown>, token = ACME) => {
    const response = await call(app, 'POST', '/v1/executions', { body, token });
    expect(response.statusCode, response.body).toBe(201);
    return response.json() as { executionId: string };
  };
  const enqueue = async (executionId: string, body: Record<string, unknown>, token = ACME) =>
    call(app, 'POST', `/v1/executions/${executionId}/events`, { body, token });

  describe('POST /v1/executions', () => {
    it('starts an execution: 201 with its state, data and Location', async () => {
      const response = await call(app, 'POST', '/v1/executions', {
        body: {
          workflow: 'ticket-lifecycle',
          executionId: 'T-1',
          input: { title: 'printer', requester: 'ana@example.com' },
        },
      });
      expect(response.statusCode).toBe(201);
      expect(response.headers['content-type']).toMatch(/^application\/json/);
      expect(response.headers.location).toBe('/v1/executions/T-1');
      expect(response.json()).toEqual({
        executionId: 'T-1',
        workflow: 'ticket-lifecycle',
        state: 'new',
        data: {
          title: 'printer',
          requester: 'ana@example.com',
          assignee: null,
          commentCount: 0,
          resolvedCount: 0,
        },
      });
    });

    it('makes up a UUID when no executionId is given, and takes a 200-character one', async () => {
      const generated = await start({ workflow: 'ticket-lifecycle' });
      expect(generated.executionId).toMatch(UUID);
      const long = `L${'x'.repeat(199)}`;
      expect((await start({ workflow: 'ticket-lifecycle', executionId: long })).executionId).toBe(
        long,
      );
      const got = await call(app, 'GET', `/v1/executions/${long}`);
      expect(got.statusCode).toBe(200);
    });

    it('answers 409 EXECUTION_EXISTS for a taken id, but ids are per tenant', async () => {
      await start({ workflow: 'ticket-lifecycle', executionId: 'T-dup' });
      const again = await call(app, 'POST', '/v1/executions', {
        body: { workflow: 'ticket-lifecycle', executionId: 'T-dup' },
      });
      expect(again.statusCode).toBe(409);
      expect(again.json().error.code).toBe('EXECUTION_EXISTS');
      await start({ workflow: 'ticket-lifecycle', executionId: 'T-dup' }, GLOBEX);
    });

    it.each([
      [{}, 'workflow'],
      [{ workflow: 42 }, 'workflow'],
      [{ workflow: '' }, 'workflow'],
      [{ workflow: 'no-such-workflow' }, 'workflow'],
      [{ workflow: 'ticket-lifecycle', executionId: 'bad id!' }, 'executionId'],
      [{ workflow: 'ticket-lifecycle', executionId: `x${'y'.repeat(200)}` }, 'executionId'],
      [{ workflow: 'ticket-lifecycle', executionId: 7 }, 'executionId'],
      [{ workflow: 'ticket-lifecycle', input: { title: 5 } }, 'input'],
      [{ workflow: 'ticket-lifecycle', input: { unknown: true } }, 'input'],
      [{ workflow: 'ticket-lifecycle', tenant: 'globex' }, 'tenant'],
      [{ workflow: 'ticket-lifecycle', input: { title: 'a\u0000b' } }, 'input.title'],
      [{ workflow: 'ticket-lifecycle', input: { title: '\ud800' } }, 'input.title'],
      [[], 'body'],
      ['"just a string"', 'body'],
    ])('answers 400 naming the field for %j', async (body, field) => {
      const before = await rowCounts(rt);
      const response = await call(app, 'POST', '/v1/executions', {
        body,
        headers: { 'content-type': 'application/json' },
      });
      expect(response.statusCode, response.body).toBe(400);
      expect(response.json()).toMatchObject({ error: { code: 'BAD_INPUT', field } });
      expect(await rowCounts(rt)).toEqual(before);
    });

    it('answers 400 for a body nested too deep', async () => {
      let input: unknown = 'leaf';
      for (let i = 0; i < 200; i++) input = { a: input };
      const response = await call(app, 'POST', '/v1/executions', {
        body: { workflow: 'ticket-lifecycle', input },
      });
      expect(response.statusCode).toBe(400);
      expect(response.json().error.field).toMatch(/^input\.a\.a/);
    });
  });

  describe('POST /v1/executions/:id/events', () => {
    it('enqueues: 202 with eventId and seq, in order', async () => {
      const { executionId } = await start({ workflow: 'ticket-lifecycle' });
      const first = await enqueue(executionId, { event: 'assign', payload: { assignee: 'bo' } });
      expect(first.statusCode).toBe(202);
      const body = first.json();
      expect(Object.keys(body).sort()).toEqual(['eventId', 'seq']);
      expect(body.eventId).toMatch(UUID);
      expect(body.seq).toBe(1);
      expect(first.headers.location).toBe(`/v1/events/${body.eventId}`);
      const second = await enqueue(executionId, { event: 'resolve' });
      expect(second.json().seq).toBe(2);
    });

    it('returns the first eventId for a repeated idempotencyKey, 409 for another payload', async () => {
      const { executionId } = await start({ workflow: 'ticket-lifecycle' });
      const request = { event: 'comment', payload: { text: 'hi' }, idempotencyKey: 'k-1' };
      const first = await enqueue(executionId, request);
      const again = await enqueue(executionId, request);
      expect(first.statusCode).toBe(202);
      expect(again.statusCode).toBe(202);
      expect(again.json()).toEqual(first.json());
      const before = await rowCounts(rt);
      const conflict = await enqueue(executionId, { ...request, payload: { text: 'other' } });
      expect(conflict.statusCode).toBe(409);
      expect(conflict.json().error.code).toBe('IDEMPOTENCY_CONFLICT');
      const otherEvent = await enqueue(executionId, { event: 'resolve', idempotencyKey: 'k-1' });
      expect(otherEvent.statusCode).toBe(409);
      expect(await rowCounts(rt)).toEqual(before);
      const history = await call(app, 'GET', `/v1/executions/${executionId}/events`);
      expect(history.json().events).toHaveLength(1);
    });

    it('settles concurrent repeats: one event per idempotency key, one execution per id', async () => {
      const { executionId } = await start({ workflow: 'ticket-lifecycle' });
      const request = { event: 'comment', payload: { text: 'once' }, idempotencyKey: 'race' };
      const answers = await Promise.all(
        Array.from({ length: 10 }, () => enqueue(executionId, request)),
      );
      expect(answers.map((a) => a.statusCode)).toEqual(Array(10).fill(202));
      expect(new Set(answers.map((a) => a.json().eventId)).size).toBe(1);
      const starts = await Promise.all(
        Array.from({ length: 6 }, () =>
          call(app, 'POST', '/v1/executions', {
            body: { workflow: 'ticket-lifecycle', executionId: 'T-race' },
          }),
        ),
      );
      expect(starts.map((s) => s.statusCode).sort()).toEqual([201, 409, 409, 409, 409, 409]);
    });

    it.each([
      [{}, 'event'],
      [{ event: 'explode' }, 'event'],
      // Names every object inherits are not events of the workflow.
      [{ event: 'toString' }, 'event'],
      [{ event: 'constructor' }, 'event'],
      [{ event: 'hasOwnProperty' }, 'event'],
      [{ event: 5 }, 'event'],
      [{ event: 'assign', payload: { assignee: 42 } }, 'payload'],
      [{ event: 'assign' }, 'payload'],
      [{ event: 'comment', payload: { text: 'x', extra: 1 } }, 'payload'],
      [{ event: 'comment', payload: { text: 'x' }, idempotencyKey: '' }, 'idempotencyKey'],
      [{ event: 'comment', payload: { text: 'x' }, idempotencyKey: 12 }, 'idempotencyKey'],
      [{ event: 'comment', payload: { text: 'x' }, idempotencyKey: 'a\u0000' }, 'idempotencyKey'],
      [{ event: 'resolve', payload: { deep: '\udfff' } }, 'payload.deep'],
      [{ event: 'comment', payload: { text: 'x' }, tenant: 'globex' }, 'tenant'],
    ])('answers 400 naming the field for %j and writes nothing', async (body, field) => {
      const { executionId } = await start({ workflow: 'ticket-lifecycle' });
      const before = await rowCounts(rt);
      const response = await enqueue(executionId, body);
      expect(response.statusCode, response.body).toBe(400);
      expect(response.json()).toMatchObject({ error: { code: 'BAD_INPUT', field } });
      expect(await rowCounts(rt)).toEqual(before);
    });

    it('answers 409 UNKNOWN_WORKFLOW for an execution of a workflow version this API lacks', async () => {
      // Started by a newer deployment (or a client library) with version 2 of the workflow.
      await rt.store.createExecution({
        tenant: 'acme',
        executionId: 'T-v2',
        workflowName: 'ticket-lifecycle',
        workflowVersion: 2,
        state: 'new',
        data: {},
      });
      const response = await enqueue('T-v2', { event: 'resolve' });
      expect(response.statusCode).toBe(409);
      expect(response.json().error).toEqual({
        code: 'UNKNOWN_WORKFLOW',
        message: 'workflow ticket-lifecycle@2 is not registered',
      });
      const history = await call(app, 'GET', '/v1/executions/T-v2/events');
      expect(history.json().events).toEqual([]);
    });

    it('answers 400 naming executionId for a malformed id in the path', async () => {
      const response = await enqueue('bad%20id', { event: 'resolve' });
      expect(response.statusCode).toBe(400);
      expect(response.json().error.field).toBe('executionId');
    });

    it("answers 404 for an unknown execution and for another tenant's, the same way", async () => {
      await start({ workflow: 'ticket-lifecycle', executionId: 'acme-only' });
      const before = await rowCounts(rt);
      const foreign = await enqueue('acme-only', { event: 'resolve' }, GLOBEX);
      const unknown = await enqueue('nowhere-at-all', { event: 'resolve' }, GLOBEX);
      expect(foreign.statusCode).toBe(404);
      expect(unknown.statusCode).toBe(404);
      const masked = (body: string, id: string) => body.replaceAll(id, '<id>');
      expect(masked(foreign.body, 'acme-only')).toBe(masked(unknown.body, 'nowhere-at-all'));
      expect(foreign.json().error.code).toBe('NOT_FOUND');
      expect(await rowCounts(rt)).toEqual(before);
    });
  });

  describe('reading executions and events', () => {
    it('GET /v1/executions/:id gives the current state once workers applied the events', async () => {
      const { executionId } = await start({ workflow: 'ticket-lifecycle' });
      await enqueue(executionId, { event: 'assign', payload: { assignee: 'bo' } });
      await enqueue(executionId, { event: 'comment', payload: { text: 'on it' } });
      const pending = await call(app, 'GET', `/v1/executions/${executionId}`);
      expect(pending.json()).toMatchObject({ state: 'new', appliedSeq: 0, status: 'active' });
      await rt.processor.process({ tenant: 'acme', executionId });
      const response = await call(app, 'GET', `/v1/executions/${executionId}`);
      expect(response.statusCode).toBe(200);
      expect(response.json()).toEqual({
        executionId,
        workflow: 'ticket-lifecycle',
        state: 'in_progress',
        data: {
          title: null,
          requester: null,
          assignee: 'bo',
          commentCount: 1,
          resolvedCount: 0,
        },
        status: 'active',
        appliedSeq: 2,
        version: 1,
        nextSeq: 3,
        createdAt: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T.*Z$/),
        updatedAt: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T.*Z$/),
      });
    });

    it("answers 404 for an unknown execution and another tenant's", async () => {
      const { executionId } = await start({ workflow: 'ticket-lifecycle' });
      for (const url of [`/v1/executions/${executionId}`, `/v1/executions/${executionId}/events`]) {
        const foreign = await call(app, 'GET', url, { token: GLOBEX });
        expect(foreign.statusCode).toBe(404);
        expect(foreign.json().error.code).toBe('NOT_FOUND');
        expect((await call(app, 'GET', url.replace(executionId, 'nope'))).statusCode).toBe(404);
      }
    });

    it('GET /v1/executions/:id/events lists the history and pages with afterSeq and limit', async () => {
      const { executionId } = await start({ workflow: 'ticket-lifecycle' });
      await enqueue(executionId, { event: 'assign', payload: { assignee: 'bo' } });
      for (let i = 0; i < 4; i++)
        await enqueue(executionId, { event: 'comment', payload: { text: `c${i}` } });
      await enqueue(executionId, { event: 'close' });
      await rt.processor.process({ tenant: 'acme', executionId });
      const all = await call(app, 'GET', `/v1/executions/${executionId}/events`);
      expect(all.statusCode).toBe(200);
      const events = all.json().events;
      expect(events.map((e: { seq: number }) => e.seq)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(events[0]).toEqual({
        eventId: expect.stringMatching(UUID),
        seq: 1,
        event: 'assign',
        payload: { assignee: 'bo' },
        status: 'applied',
        fromState: 'new',
        toState: 'in_progress',
        reason: null,
        createdAt: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T.*Z$/),
        appliedAt: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T.*Z$/),
      });
      expect(events[5]).toMatchObject({
        event: 'close',
        status: 'rejected',
        toState: null,
        reason: 'event close is not allowed in state in_progress',
      });
      const page = await call(
        app,
        'GET',
        `/v1/executions/${executionId}/events?afterSeq=2&limit=3`,
      );
      expect(page.json().events.map((e: { seq: number }) => e.seq)).toEqual([3, 4, 5]);
      const last = await call(app, 'GET', `/v1/executions/${executionId}/events?afterSeq=6`);
      expect(last.json().events).toEqual([]);
    });

    it.each([
      ['limit=0', 'limit'],
      ['limit=1001', 'limit'],
      ['limit=abc', 'limit'],
      ['limit=1e2', 'limit'],
      ['afterSeq=-1', 'afterSeq'],
      ['afterSeq=1.5', 'afterSeq'],
      ['afterSeq=99999999999999999999', 'afterSeq'],
      ['afterSeq=1&afterSeq=2', 'afterSeq'],
    ])('answers 400 naming the parameter for ?%s', async (query, field) => {
      const { executionId } = await start({ workflow: 'ticket-lifecycle' });
      const response = await call(app, 'GET', `/v1/executions/${executionId}/events?${query}`);
      expect(response.statusCode).toBe(400);
      expect(response.json().error).toMatchObject({ code: 'BAD_INPUT', field });
    });

    it('GET /v1/events/:eventId tells what became of one event, with the rejection reason', async () => {
      const { executionId } = await start({ workflow: 'ticket-lifecycle' });
      const comment = (
        await enqueue(executionId, { event: 'comment', payload: { text: 'x' } })
      ).json();
      const close = (await enqueue(executionId, { event: 'close' })).json();
      const pending = await call(app, 'GET', `/v1/events/${comment.eventId}`);
      expect(pending.json()).toEqual({ eventId: comment.eventId, executionId, status: 'pending' });
      await rt.processor.process({ tenant: 'acme', executionId });
      expect((await call(app, 'GET', `/v1/events/${comment.eventId}`)).json()).toEqual({
        eventId: comment.eventId,
        executionId,
        status: 'applied',
      });
      expect((await call(app, 'GET', `/v1/events/${close.eventId}`)).json()).toEqual({
        eventId: close.eventId,
        executionId,
        status: 'rejected',
        error: 'event close is not allowed in state new',
        errorCode: 'REJECTED',
      });
      const foreign = await call(app, 'GET', `/v1/events/${close.eventId}`, { token: GLOBEX });
      expect(foreign.statusCode).toBe(404);
      const unknown = await call(app, 'GET', '/v1/events/00000000-0000-4000-8000-000000000000');
      expect(unknown.statusCode).toBe(404);
      const malformed = await call(app, 'GET', '/v1/events/not-a-uuid');
      expect(malformed.statusCode).toBe(400);
      expect(malformed.json().error.field).toBe('eventId');
    });
  });

  describe('dead letters', () => {
    it('lists dead events and retries them: 202, then 409 NOT_DEAD, 404 for others', async () => {
      const { executionId } = await start({ workflow: 'ticket-lifecycle' });
      const { eventId } = (await enqueue(executionId, { event: 'resolve' })).json();
      await rt.store.markDead({ tenant: 'acme', executionId }, 'boom');
      const list = await call(app, 'GET', '/v1/dead-letters');
      expect(list.statusCode).toBe(200);
      expect(list.json().deadLetters).toContainEqual({
        eventId,
        executionId,
        seq: 1,
        event: 'resolve',
        status: 'dead',
        error: 'boom',
        errorCode: 'PROCESSING_FAILED',
      });
      expect((await call(app, 'GET', '/v1/dead-letters', { token: GLOBEX })).json()).toEqual({
        deadLetters: [],
      });
      expect((await call(app, 'GET', '/v1/dead-letters?limit=0')).statusCode).toBe(400);
      const foreign = await call(app, 'POST', `/v1/dead-letters/${eventId}/retry`, {
        token: GLOBEX,
      });
      expect(foreign.statusCode).toBe(404);
      const retried = await call(app, 'POST', `/v1/dead-letters/${eventId}/retry`);
      expect(retried.statusCode).toBe(202);
      expect(retried.json()).toEqual({ eventId, executionId });
      expect((await call(app, 'GET', `/v1/events/${eventId}`)).json().status).toBe('pending');
      const again = await call(app, 'POST', `/v1/dead-letters/${eventId}/retry`);
      expect(again.statusCode).toBe(409);
      expect(again.json().error.code).toBe('NOT_DEAD');
      const unknown = await call(
        app,
        'POST',
        '/v1/dead-letters/00000000-0000-4000-8000-000000000000/retry',
      );
      expect(unknown.statusCode).toBe(404);
    });
  });

  describe('authentication', () => {
    it.each([
      ['no Authorization header', null, {}],
      ['an unknown token', 'not-a-real-token', {}],
      ['an empty bearer', '', {}],
      ['a Basic credential', null, { authorization: 'Basic YWNtZTp4' }],
      ['a token with trailing junk', null, { authorization: `Bearer ${ACME} extra` }],
    ])('answers 401 for %s, before reading the body', async (_what, token, headers) => {
      const before = await rowCounts(rt);
      const response = await call(app, 'POST', '/v1/executions', {
        token,
        headers,
        body: '{not json',
      });
      expect(response.statusCode).toBe(401);
      expect(response.headers['www-authenticate']).toBe('Bearer');
      expect(response.json().error.code).toBe('UNAUTHORIZED');
      expect(await rowCounts(rt)).toEqual(before);
    });

    it('guards every /v1 route', async () => {
      for (const [method, url] of [
        ['GET', '/v1/executions/T-1'],
        ['GET', '/v1/executions/T-1/events'],
        ['GET', '/v1/events/00000000-0000-4000-8000-000000000000'],
        ['GET', '/v1/dead-letters'],
        ['POST', '/v1/dead-letters/00000000-0000-4000-8000-000000000000/retry'],
        ['POST', '/v1/executions/T-1/events'],
      ] as const) {
        expect((await call(app, method, url, { token: null })).statusCode).toBe(401);
      }
    });

    it('takes the scheme name in any case', async () => {
      const response = await call(app, 'GET', '/v1/dead-letters', {
        token: null,
        headers: { authorization: `bearer ${ACME}` },
      });
      expect(response.statusCode).toBe(200);
    });
  });

  describe('malformed requests', () => {
    it('answers 413 for a body over 1 MiB', async () => {
      const response = await call(app, 'POST', '/v1/executions', {
        body: { workflow: 'ticket-lifecycle', input: { title: 'x'.repeat(1_048_576) } },
      });
      expect(response.statusCode).toBe(413);
      expect(response.json().error.code).toBe('BODY_TOO_LARGE');
    });

    it('answers 400 BAD_JSON for a body that is not JSON, and for an empty JSON body', async () => {
      for (const body of ['{"workflow":', '', '{"__proto__":{"x":1}}']) {
        const response = await call(app, 'POST', '/v1/executions', {
          body,
          headers: { 'content-type': 'application/json' },
        });
        expect(response.statusCode, body).toBe(400);
        expect(response.json().error.code).toBe('BAD_JSON');
      }
    });

    it('answers 400 naming the body when there is none', async () => {
      const response = await call(app, 'POST', '/v1/executions');
      expect(response.statusCode).toBe(400);
      expect(response.json().error.field).toBe('body');
    });

    it('answers 415 for a body that is not application/json', async () => {
      for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/xml']) {
        const response = await call(app, 'POST', '/v1/executions', {
          body: 'workflow=ticket-lifecycle',
          headers: { 'content-type': type },
        });
        expect(response.statusCode, type).toBe(415);
        expect(response.json().error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
      }
    });

    it('answers 415 for a compressed body (fastify would read it as plain JSON)', async () => {
      const response = await call(app, 'POST', '/v1/executions', {
        body: { workflow: 'ticket-lifecycle' },
        headers: { 'content-encoding': 'gzip' },
      });
      expect(response.statusCode).toBe(415);
    });

    it('answers 400 for JSON nested half a million levels deep, without overflowing the stack', async () => {
      const depth = 500_000;
      for (const body of [
        `{"workflow":"ticket-lifecycle","input":${'['.repeat(depth)}${']'.repeat(depth)}}`,
        `${'['.repeat(depth)}${']'.repeat(depth)}`,
        `{"event":"resolve","payload":${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}}`,
      ]) {
        const url = body.includes('event') ? '/v1/executions/T-1/events' : '/v1/executions';
        const response = await call(app, 'POST', url, {
          body,
          headers: { 'content-type': 'application/json' },
        });
        expect(response.statusCode).toBe(400);
      }
    });

    it('answers 404 JSON for unknown routes', async () => {
      for (const [method, url] of [
        ['GET', '/nope'],
        ['GET', '/v2/executions/T-1'],
        ['POST', '/v1/executions/T-1/events/extra'],
      ] as const) {
        const response = await call(app, method, url);
        expect(response.statusCode, url).toBe(404);
        expect(response.json().error.code).toBe('NOT_FOUND');
      }
    });

    it('answers 405 with Allow for a method a route does not take', async () => {
      for (const [method, url, allow] of [
        ['PUT', '/v1/executions', 'GET, HEAD, POST'],
        ['POST', '/v1/executions/T-1', 'GET, HEAD'],
        ['DELETE', '/v1/executions/T-1/events', 'GET, HEAD, POST'],
        ['PUT', '/healthz', 'GET, HEAD'],
        ['PATCH', '/metrics', 'GET, HEAD'],
      ] as const) {
        const response = await app.inject({
          method,
          url,
          headers: { authorization: `Bearer ${ACME}` },
        });
        expect(response.statusCode, `${method} ${url}`).toBe(405);
        expect(response.headers.allow).toBe(allow);
        expect(response.json().error.code).toBe('METHOD_NOT_ALLOWED');
      }
    });

    it('answers 400 for a malformed percent-encoding', async () => {
      const response = await call(app, 'GET', '/v1/executions/%E0%A4%A');
      expect(response.statusCode).toBe(400);
      expect(response.json().error).toBeDefined();
    });
  });

  describe('operations', () => {
    it('logs one line per request, with its route, status and tenant', async () => {
      const lines: Array<Record<string, unknown>> = [];
      const logger = pino(
        { level: 'info' },
        { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
      );
      const logged = await buildApiApp({ runtime: rt, tokens: TOKENS, logger });
      try {
        const response = await call(logged, 'GET', '/v1/dead-letters');
        expect(response.statusCode).toBe(200);
      } finally {
        await logged.close();
      }
      const perRequest = lines.filter((line) => line.reqId !== undefined);
      expect(perRequest).toHaveLength(1);
      expect(perRequest[0]).toMatchObject({
        msg: 'request',
        route: '/v1/dead-letters',
        status: 200,
        tenant: 'acme',
      });
    });

    it('/healthz and /readyz answer 200 without a token', async () => {
      const health = await call(app, 'GET', '/healthz', { token: null });
      expect([health.statusCode, health.json()]).toEqual([200, { status: 'ok' }]);
      const ready = await call(app, 'GET', '/readyz', { token: null });
      expect([ready.statusCode, ready.json()]).toEqual([
        200,
        { status: 'ready', checks: { postgres: 'ok', redis: 'ok' } },
      ]);
    });

    it('/metrics counts requests per route and status, their latency and enqueued events', async () => {
      const { executionId } = await start({ workflow: 'ticket-lifecycle' });
      await enqueue(executionId, { event: 'resolve' });
      await call(app, 'GET', '/nope');
      const response = await call(app, 'GET', '/metrics', { token: null });
      expect(response.statusCode).toBe(200);
      expect(response.headers['content-type']).toMatch(/^text\/plain/);
      const text = response.body;
      expect(text).toMatch(
        /flowpool_api_requests_total\{method="POST",route="\/v1\/executions\/:executionId\/events",status="202"\} \d+/,
      );
      expect(text).toMatch(
        /flowpool_api_requests_total\{method="GET",route="unmatched",status="404"\}/,
      );
      expect(text).toMatch(
        /flowpool_api_request_duration_seconds_bucket\{le="0.005",method="POST",route="\/v1\/executions"\}/,
      );
      expect(text).toMatch(/flowpool_events_enqueued_total\{result="new"\} [1-9]/);
      expect(text).toMatch(/flowpool_executions_started_total [1-9]/);
    });
  });

  describe('POST /v1/events/batch', () => {
    it('enqueues events of several executions with a result per event', async () => {
      const one = await start({ workflow: 'ticket-lifecycle' });
      const two = await start({ workflow: 'ticket-lifecycle' });
      const theirs = await start({ workflow: 'ticket-lifecycle' }, GLOBEX);
      const first = await enqueue(one.executionId, {
        event: 'comment',
        payload: { text: 'first' },
        idempotencyKey: 'b-k',
      });
      const events = [
        { executionId: one.executionId, event: 'comment', payload: { text: 'a' } },
        { executionId: two.executionId, event: 'assign', payload: { assignee: 'bo' } },
        {
          executionId: one.executionId,
          event: 'comment',
          payload: { text: 'first' },
          idempotencyKey: 'b-k',
        },
        {
          executionId: one.executionId,
          event: 'comment',
          payload: { text: 'other' },
          idempotencyKey: 'b-k',
        },
        { executionId: one.executionId, event: 'comment', payload: { text: 1 } },
        { executionId: theirs.executionId, event: 'resolve' },
        { executionId: two.executionId, event: 'comment', payload: { text: 'x'.repeat(70_000) } },
        { executionId: two.executionId, event: 'comment', payload: { text: 'b' } },
      ];
      const response = await call(app, 'POST', '/v1/events/batch', { body: { events } });
      expect(response.statusCode, response.body).toBe(200);
      const { results } = response.json() as {
        results: Array<{
          status: string;
          eventId?: string;
          seq?: number;
          httpStatus?: number;
          error?: { code: string; field?: string };
        }>;
      };
      expect(
        results.map((r) => (r.status === 'error' ? `${r.httpStatus} ${r.error?.code}` : r.status)),
      ).toEqual([
        'accepted',
        'accepted',
        'duplicate',
        '409 IDEMPOTENCY_CONFLICT',
        '400 BAD_INPUT',
        '404 NOT_FOUND',
        '413 PAYLOAD_TOO_LARGE',
        'accepted',
      ]);
      expect(results[2]).toMatchObject({ eventId: first.json().eventId, seq: 1 });
      expect(results[0]).toMatchObject({ seq: 2, eventId: expect.stringMatching(UUID) });
      expect(results.map((r) => r.seq)).toEqual([
        2,
        1,
        1,
        undefined,
        undefined,
        undefined,
        undefined,
        2,
      ]);
      expect(results[4]?.error?.field).toBe('payload');
      // The other tenant's execution got nothing.
      const history = await call(app, 'GET', `/v1/executions/${theirs.executionId}/events`, {
        token: GLOBEX,
      });
      expect(history.json().events).toEqual([]);
    });

    it('refuses a malformed or oversized batch as a whole', async () => {
      const { executionId } = await start({ workflow: 'ticket-lifecycle' });
      const before = await rowCounts(rt);
      const cases: Array<[unknown, number, string]> = [
        [{ events: [] }, 400, 'events'],
        [{ events: [{ executionId: 'bad id', event: 'resolve' }] }, 400, 'events.0.executionId'],
        [{ events: [{ executionId, event: 'resolve', extra: 1 }] }, 400, 'events.0.extra'],
        [
          { events: Array.from({ length: 501 }, () => ({ executionId, event: 'resolve' })) },
          400,
          'events',
        ],
      ];
      for (const [body, status, field] of cases) {
        const response = await call(app, 'POST', '/v1/events/batch', { body });
        expect(response.statusCode, response.body).toBe(status);
        expect(response.json().error.field).toBe(field);
      }
      const huge = Array.from({ length: 20 }, () => ({
        executionId,
        event: 'comment',
        payload: { text: 'x'.repeat(60_000) },
      }));
      const tooBig = await call(app, 'POST', '/v1/events/batch', { body: { events: huge } });
      expect(tooBig.statusCode).toBe(413);
      expect(await rowCounts(rt)).toEqual(before);
    });
  });

  describe('/openapi.json', () => {
    it('documents every route, with bearer auth on the /v1 routes', async () => {
      const response = await call(app, 'GET', '/openapi.json', { token: null });
      expect(response.statusCode).toBe(200);
      const doc = response.json();
      expect(doc.openapi).toMatch(/^3\./);
      expect(doc.components.securitySchemes.bearerAuth).toEqual(
        expect.objectContaining({ type: 'http', scheme: 'bearer' }),
      );
      expect(doc.security).toEqual([{ bearerAuth: [] }]);
      const operations = Object.entries(doc.paths as Record<string, Record<string, unknown>>)
        .flatMap(([path, methods]) => Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`))
        .sort();
      expect(operations).toEqual(
        [
          'POST /v1/executions',
          'POST /v1/executions/{executionId}/events',
          'POST /v1/events/batch',
          'GET /v1/executions/{executionId}',
          'GET /v1/executions/{executionId}/events',
          'GET /v1/events/{eventId}',
          'GET /v1/dead-letters',
          'POST /v1/dead-letters/{eventId}/retry',
          'GET /v1/executions',
          'GET /v1/executions/counts',
          'GET /v1/executions/{executionId}/actions',
          'GET /v1/executions/{executionId}/snapshots',
          'GET /v1/workflows',
          'GET /v1/stream',
          'POST /v1/dead-letters/retry',
          'GET /openapi.json',
          'GET /healthz',
          'GET /readyz',
          'GET /metrics',
        ].sort(),
      );
      for (const [path, methods] of Object.entries(doc.paths as Record<string, object>)) {
        for (const operation of Object.values(methods) as Array<{
          security?: unknown[];
          responses: Record<string, unknown>;
        }>) {
          if (path.startsWith('/v1/')) {
            expect(operation.security, path).toBeUndefined();
            expect(Object.keys(operation.responses), path).toEqual(
              expect.arrayContaining(['400', '401', '404', '503']),
            );
          } else {
            expect(operation.security, path).toEqual([]);
          }
        }
      }
      expect(doc.components.schemas.Error).toBeDefined();
    });
  });
});

describe('HTTP API when a dependency is down', () => {
  it('Redis stopped: 503 from /readyz and dead-letter retry; enqueue is still accepted (outbox)', async () => {
    const server = await RedisServer.start();
    const rt = await startTestRuntime({ redisUrl: server.url });
    const app = await buildApiApp({ runtime: rt, tokens: TOKENS, logger: silentLogger });
    try {
      const started = await call(app, 'POST', '/v1/executions', {
        body: { workflow: 'ticket-lifecycle', executionId: 'R-1' },
      });
      expect(started.statusCode).toBe(201);
      const dead = (
        await call(app, 'POST', '/v1/executions/R-1/events', { body: { event: 'resolve' } })
      ).json();
      await rt.store.markDead({ tenant: 'acme', executionId: 'R-1' }, 'boom');
      await server.stop();

      const ready = await call(app, 'GET', '/readyz', { token: null });
      expect(ready.statusCode).toBe(503);
      expect(ready.json()).toEqual({
        status: 'unavailable',
        checks: { postgres: 'ok', redis: 'unreachable' },
      });
      const retry = await call(app, 'POST', `/v1/dead-letters/${dead.eventId}/retry`);
      expect(retry.statusCode).toBe(503);
      expect(retry.json()).toEqual({
        error: { code: 'UNAVAILABLE', message: expect.any(String) },
      });
      expect((await rt.store.getEvent('acme', dead.eventId))?.status).toBe('dead');
      const many = await call(app, 'POST', '/v1/dead-letters/retry', {
        body: { eventIds: [dead.eventId] },
      });
      expect(many.statusCode).toBe(503);
      expect((await rt.store.getEvent('acme', dead.eventId))?.status).toBe('dead');
      // Stream health still answers what PostgreSQL knows, and says the backlog is unknown.
      const stream = await call(app, 'GET', '/v1/stream');
      expect(stream.statusCode).toBe(200);
      expect(stream.json().backlog).toEqual({
        lag: null,
        pending: null,
        readOk: false,
        errorCode: 'RedisUnavailable',
      });
      expect(stream.json().applied).toHaveLength(60);

      // PostgreSQL is the source of truth: the event commits, the relay sends its notice later.
      await call(app, 'POST', '/v1/executions', {
        body: { workflow: 'ticket-lifecycle', executionId: 'R-2' },
      });
      const accepted = await call(app, 'POST', '/v1/executions/R-2/events', {
        body: { event: 'comment', payload: { text: 'while redis is away' } },
      });
      expect(accepted.statusCode).toBe(202);
      const row = await rt.db
        .knex('workflow_events')
        .where({ event_id: accepted.json().eventId })
        .first('published_at');
      expect(row.published_at).toBeNull();

      await server.resume();
      const back = await call(app, 'GET', '/readyz', { token: null });
      expect(back.statusCode).toBe(200);
    } finally {
      await app.close();
      await rt.close();
      await server.destroy();
    }
  });

  it('PostgreSQL unreachable: 503 UNAVAILABLE from every data route and /readyz', async () => {
    const redisHandle: TestRedis = await testRedis();
    const knex = knexFactory({
      client: 'pg',
      connection: `postgres://flowpool@127.0.0.1:${await freePort()}/nothing`,
      pool: { min: 0, max: 2 },
      acquireConnectionTimeout: 2_000,
      log: { warn() {}, error() {}, debug() {}, deprecate() {} },
    });
    const redis = new Redis(redisHandle.url, { maxRetriesPerRequest: 1 });
    const runtime = createRuntime({
      knex,
      redis,
      registry: new WorkflowRegistry(bundledWorkflows),
      settings: {
        ...DEFAULT_RUNTIME_SETTINGS,
        stream: `${redisHandle.prefix}stream`,
        group: 'g',
        workerId: 'api',
      },
      logger: silentLogger,
    });
    const app = await buildApiApp({ runtime, tokens: TOKENS, logger: silentLogger });
    try {
      const requests: Array<[method: 'GET' | 'POST', url: string, body?: unknown]> = [
        ['POST', '/v1/executions', { workflow: 'ticket-lifecycle' }],
        ['POST', '/v1/executions/T-1/events', { event: 'resolve' }],
        ['POST', '/v1/events/batch', { events: [{ executionId: 'T-1', event: 'resolve' }] }],
        ['GET', '/v1/executions/T-1'],
        ['GET', '/v1/executions/T-1/events'],
        ['GET', '/v1/events/00000000-0000-4000-8000-000000000000'],
        ['GET', '/v1/dead-letters'],
        ['POST', '/v1/dead-letters/00000000-0000-4000-8000-000000000000/retry'],
        ['GET', '/v1/executions?status=active'],
        ['GET', '/v1/executions/counts'],
        ['GET', '/v1/executions/T-1/actions'],
        ['GET', '/v1/executions/T-1/snapshots'],
        ['GET', '/v1/stream'],
        ['POST', '/v1/dead-letters/retry', { eventIds: ['00000000-0000-4000-8000-000000000000'] }],
      ];
      for (const [method, url, body] of requests) {
        const response = await call(app, method, url, { body });
        expect(response.statusCode, `${method} ${url}`).toBe(503);
        expect(response.json().error.code).toBe('UNAVAILABLE');
        expect(response.body).not.toMatch(/ECONNREFUSED|\n\s+at /);
      }
      // Many dead letters at once: the store is tried once, not once per id.
      const retry = vi.spyOn(runtime.deadLetters, 'retry');
      const eventIds = Array.from(
        { length: 20 },
        (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      );
      const many = await call(app, 'POST', '/v1/dead-letters/retry', { body: { eventIds } });
      expect(many.statusCode).toBe(503);
      expect(retry).toHaveBeenCalledTimes(1);
      const ready = await call(app, 'GET', '/readyz', { token: null });
      expect(ready.statusCode).toBe(503);
      expect(ready.json().checks).toEqual({ postgres: 'unreachable', redis: 'ok' });
      // Bad input is still a 400: validation needs no database.
      const bad = await call(app, 'POST', '/v1/executions', { body: { workflow: 1 } });
      expect(bad.statusCode).toBe(400);
    } finally {
      await app.close();
      await knex.destroy();
      redis.disconnect();
      await redisHandle.close();
    }
  });

  it('a batch whose items all fail alike asks for readiness once, not once per item', async () => {
    const rt = await startTestRuntime();
    let asked = 0;
    const readiness = async () => {
      asked += 1;
      return { ready: true, checks: { postgres: 'ok', redis: 'ok' } };
    };
    const buggy: typeof rt = {
      ...rt,
      service: Object.assign(Object.create(rt.service), {
        enqueueEvents: async (items: readonly unknown[]) =>
          items.map(() => ({ ok: false as const, error: new TypeError('a bug') })),
      }),
    };
    const app = await buildApiApp({
      runtime: buggy,
      tokens: TOKENS,
      logger: silentLogger,
      readiness,
    });
    try {
      const events = Array.from({ length: 10 }, () => ({ executionId: 'T-1', event: 'resolve' }));
      const response = await call(app, 'POST', '/v1/events/batch', { body: { events } });
      expect(response.statusCode).toBe(200);
      expect(response.json().results.map((r: { error: { code: string } }) => r.error.code)).toEqual(
        events.map(() => 'INTERNAL'),
      );
      expect(asked).toBe(1);
    } finally {
      await app.close();
      await rt.close();
    }
  });

  it('a closed PostgreSQL pool is 503 too, and a real bug is 500 without a stack trace', async () => {
    const rt = await startTestRuntime();
    const app = await buildApiApp({ runtime: rt, tokens: TOKENS, logger: silentLogger });
    const broken = withGetExecution(rt, async () => {
      throw new TypeError('cannot read properties of undefined (reading "x")');
    });
    const buggy = await buildApiApp({ runtime: broken, tokens: TOKENS, logger: silentLogger });
    try {
      const bug = await call(buggy, 'GET', '/v1/executions/T-1');
      expect(bug.statusCode).toBe(500);
      expect(bug.json()).toEqual({ error: { code: 'INTERNAL', message: 'internal error' } });

      await rt.db.knex.destroy();
      const response = await call(app, 'GET', '/v1/executions/T-1');
      expect(response.statusCode).toBe(503);
      expect(response.json().error.code).toBe('UNAVAILABLE');
    } finally {
      await app.close();
      await buggy.close();
      await rt.close().catch(() => undefined);
    }
  });
});
