import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UnavailableError } from '../core/errors.js';
import { withGetExecution } from '../test/support/api-services.js';
import { silentLogger, startTestRuntime, type TestRuntime } from '../test/support/runtime.js';
import { type ApiServices, buildApiApp } from './app.js';

type App = Awaited<ReturnType<typeof buildApiApp>>;

const TOKEN = 'acme-token-0001';
const TOKENS = new Map([[TOKEN, 'acme']]);
const SECRETS = ['hunter2', 's3cr3t'];

function call(app: App, method: 'GET' | 'POST', url: string, body?: unknown) {
  return app.inject({
    method,
    url,
    headers: { authorization: `Bearer ${TOKEN}` },
    ...(body === undefined ? {} : { payload: body as Record<string, unknown> }),
  });
}

function expectNoSecret(text: string): void {
  for (const secret of SECRETS) expect(text).not.toContain(secret);
}

describe('error text in API answers', () => {
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

  const enqueue = async (executionId: string, event: string) => {
    const started = await call(app, 'POST', '/v1/executions', {
      workflow: 'ticket-lifecycle',
      executionId,
    });
    expect(started.statusCode).toBe(201);
    const response = await call(app, 'POST', `/v1/executions/${executionId}/events`, { event });
    expect(response.statusCode).toBe(202);
    return response.json() as { eventId: string };
  };

  it('GET /v1/events/:id gives a stable code and a message without credentials', async () => {
    const coded = await enqueue('E-1', 'resolve');
    // As a worker stored errors before it cleaned them: a driver error quoting its URL.
    await rt.store.recordFailure(
      'acme',
      coded.eventId,
      'w1',
      'INTERNAL: connect ECONNREFUSED postgres://svc:hunter2@db.internal:5432/flow',
    );
    const first = await call(app, 'GET', `/v1/events/${coded.eventId}`);
    expect(first.statusCode).toBe(200);
    expect(first.json()).toMatchObject({
      status: 'pending',
      errorCode: 'INTERNAL',
      error: 'connect ECONNREFUSED postgres://svc:***@db.internal:5432/flow',
    });
    expectNoSecret(first.body);

    const uncoded = await enqueue('E-2', 'resolve');
    await rt.store.recordFailure(
      'acme',
      uncoded.eventId,
      'w1',
      'POST https://svc:s3cr3t@hooks.example.com/notify?token=abc answered 500',
    );
    const second = await call(app, 'GET', `/v1/events/${uncoded.eventId}`);
    expect(second.json()).toMatchObject({ errorCode: 'PROCESSING_FAILED' });
    expect(second.json().error).toContain('https://svc:***@hooks.example.com');
    expectNoSecret(second.body);
    expect(second.body).not.toContain('token=abc');
  });

  it('a rejected event says REJECTED with its reason', async () => {
    const { eventId } = await enqueue('E-3', 'close');
    await rt.processor.process({ tenant: 'acme', executionId: 'E-3' });
    expect((await call(app, 'GET', `/v1/events/${eventId}`)).json()).toMatchObject({
      status: 'rejected',
      errorCode: 'REJECTED',
      error: 'event close is not allowed in state new',
    });
  });

  it('GET /v1/dead-letters gives the code and a cleaned message', async () => {
    const { eventId } = await enqueue('E-4', 'resolve');
    await rt.store.markDead(
      { tenant: 'acme', executionId: 'E-4' },
      'ACTION_FAILED: action notify failed: fetch https://svc:s3cr3t@hooks.example.com refused',
    );
    const response = await call(app, 'GET', '/v1/dead-letters');
    expect(response.statusCode).toBe(200);
    const entry = response
      .json()
      .deadLetters.find((e: { eventId: string }) => e.eventId === eventId);
    expect(entry).toMatchObject({
      errorCode: 'ACTION_FAILED',
      error: 'action notify failed: fetch https://svc:***@hooks.example.com refused',
    });
    expectNoSecret(response.body);
  });

  it('5xx answers carry no error text, whatever the error said', async () => {
    const leaky = (error: Error): ApiServices =>
      withGetExecution(rt, async () => {
        throw error;
      });
    const bug = await buildApiApp({
      runtime: leaky(new Error('select failed on postgres://svc:hunter2@db/flow')),
      tokens: TOKENS,
      logger: silentLogger,
    });
    const outage = await buildApiApp({
      runtime: leaky(
        new UnavailableError('PostgreSQL', new Error('postgres://svc:hunter2@db refused')),
      ),
      tokens: TOKENS,
      logger: silentLogger,
    });
    try {
      const internal = await call(bug, 'GET', '/v1/executions/E-1');
      expect(internal.statusCode).toBe(500);
      expect(internal.json()).toEqual({ error: { code: 'INTERNAL', message: 'internal error' } });
      const unavailable = await call(outage, 'GET', '/v1/executions/E-1');
      expect(unavailable.statusCode).toBe(503);
      expect(unavailable.json().error.code).toBe('UNAVAILABLE');
      expectNoSecret(unavailable.body);
    } finally {
      await bug.close();
      await outage.close();
    }
  });
});
