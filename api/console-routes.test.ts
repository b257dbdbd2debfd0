import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_API_SETTINGS } from '../core/config/api-settings.js';
import { waitFor } from '../local/process.js';
import { silentLogger, startTestRuntime, type TestRuntime } from '../test/support/runtime.js';
import { buildApiApp } from './app.js';

type App = Awaited<ReturnType<typeof buildApiApp>>;

const ACME = 'acme-token-0001';
const GLOBEX = 'globex-token-0001';
const TOKENS = new Map([
  [ACME, 'acme'],
  [GLOBEX, 'globex'],
]);

function call(app: App, method: 'GET' | 'POST', url: string, token = ACME, body?: unknown) {
  return app.inject({
    method,
    url,
    headers: { authorization: `Bearer ${token}` },
    ...(body === undefined ? {} : { payload: body as Record<string, unknown> }),
  });
}

async function getJson(app: App, url: string, token = ACME) {
  const response = await call(app, 'GET', url, token);
  expect(response.statusCode, `${url}: ${response.body}`).toBe(200);
  return response.json();
}

/** Rows written straight to the table, so creation times (and their ties) are the test's. */
async function insertExecution(
  rt: TestRuntime,
  tenant: string,
  executionId: string,
  row: { createdAt: string; state?: string; status?: string; workflow?: string },
) {
  await rt.db.knex('workflow_executions').insert({
    tenant,
    execution_id: executionId,
    workflow_name: row.workflow ?? 'ticket-lifecycle',
    workflow_version: 1,
    current_state: row.state ?? 'new',
    status: row.status ?? 'active',
    created_at: row.createdAt,
    updated_at: row.createdAt,
  });
}

const cursorOf = (createdAt: string, executionId: string) =>
  Buffer.from(JSON.stringify({ c: createdAt, i: executionId })).toString('base64url');

describe('console routes', () => {
  let rt: TestRuntime;
  let app: App;

  beforeAll(async () => {
    rt = await startTestRuntime();
    app = await buildApiApp({ runtime: rt, tokens: TOKENS, logger: silentLogger });
    // acme: 12 executions, some sharing a creation time to the microsecond.
    const times = [
      '2026-01-01T00:00:00.000001Z',
      '2026-01-01T00:00:00.000001Z',
      '2026-01-01T00:00:00.000002Z',
      '2026-01-02T00:00:00Z',
      '2026-01-02T00:00:00Z',
      '2026-01-02T00:00:00Z',
      '2026-01-03T00:00:00Z',
      '2026-01-04T00:00:00Z',
      '2026-01-05T00:00:00Z',
      '2026-01-06T00:00:00Z',
      '2026-01-06T00:00:00Z',
      '2026-01-07T00:00:00Z',
    ];
    for (const [i, createdAt] of times.entries()) {
      await insertExecution(rt, 'acme', `L-${String(i).padStart(2, '0')}`, {
        createdAt,
        state: i % 3 === 0 ? 'in_progress' : 'new',
        status: i === 4 ? 'blocked' : i === 5 ? 'completed' : 'active',
      });
    }
    await insertExecution(rt, 'acme', 'L_x', { createdAt: '2026-01-08T00:00:00Z' });
    await insertExecution(rt, 'globex', 'L-00', { createdAt: '2026-01-03T00:00:00Z' });
    await insertExecution(rt, 'globex', 'G-1', { createdAt: '2026-01-03T00:00:00Z' });
  });
  afterAll(async () => {
    await app.close();
    await rt.close();
  });

  describe('GET /v1/executions', () => {
    it('walks every execution exactly once with the cursor, newest first, ties by id', async () => {
      const seen: Array<{ executionId: string; createdAt: string }> = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const url = `/v1/executions?q=L-&limit=5${cursor ? `&cursor=${cursor}` : ''}`;
        const page = await getJson(app, url);
        expect(page.items.length).toBeLessThanOrEqual(5);
        seen.push(...page.items);
        cursor = page.nextCursor;
        pages++;
      } while (cursor !== null && pages < 10);
      expect(pages).toBe(3);
      const ids = seen.map((item) => item.executionId);
      expect(new Set(ids).size).toBe(12);
      expect(ids).toEqual([
        'L-11',
        'L-10',
        'L-09',
        'L-08',
        'L-07',
        'L-06',
        'L-05',
        'L-04',
        'L-03',
        'L-02',
        'L-01',
        'L-00',
      ]);
    });

    it('answers the documented fields', async () => {
      const page = await getJson(app, '/v1/executions?q=L-04');
      expect(page).toEqual({
        items: [
          {
            executionId: 'L-04',
            workflow: 'ticket-lifecycle',
            version: 1,
            state: 'new',
            status: 'blocked',
            blocked: true,
            createdAt: '2026-01-02T00:00:00.000Z',
            updatedAt: '2026-01-02T00:00:00.000Z',
            appliedSeq: 0,
            nextSeq: 1,
          },
        ],
        nextCursor: null,
      });
    });

    it('filters by workflow, state, status, blocked, creation range and id prefix', async () => {
      const ids = async (query: string) =>
        (await getJson(app, `/v1/executions?${query}`)).items.map(
          (item: { executionId: string }) => item.executionId,
        );
      expect(await ids('state=in_progress')).toEqual(['L-09', 'L-06', 'L-03', 'L-00']);
      expect(await ids('status=completed')).toEqual(['L-05']);
      expect(await ids('blocked=true')).toEqual(['L-04']);
      expect(await ids('blocked=false&q=L-0')).toHaveLength(9);
      expect(await ids('workflow=other')).toEqual([]);
      expect(await ids('createdAfter=2026-01-02T00:00:00Z&createdBefore=2026-01-04')).toEqual([
        'L-06',
        'L-05',
        'L-04',
        'L-03',
      ]);
      // "_" is an id character, not a wildcard.
      expect(await ids('q=L_')).toEqual(['L_x']);
      expect(await ids('q=L-1')).toEqual(['L-11', 'L-10']);
    });

    it('answers 400 naming the field for bad query values', async () => {
      const cases: Array<[string, string]> = [
        ['limit=0', 'limit'],
        ['limit=201', 'limit'],
        ['limit=ten', 'limit'],
        ['status=stuck', 'status'],
        ['blocked=yes', 'blocked'],
        ['createdAfter=yesterday', 'createdAfter'],
        ['createdBefore=2026-13-45', 'createdBefore'],
        // What a JavaScript Date rolls over and PostgreSQL refuses: the caller's 400, not a 500.
        ['createdAfter=2026-02-30', 'createdAfter'],
        ['createdAfter=0000-01-01', 'createdAfter'],
        ['createdAfter=2026-01-01T24:00:00Z', 'createdAfter'],
        ['createdAfter=2026-01-01T00:00:00%2B16:00', 'createdAfter'],
        [`cursor=${cursorOf('2026-02-30 00:00:00+00', 'L-1')}`, 'cursor'],
        [`cursor=${cursorOf('99999-01-01 00:00:00+00', 'L-1')}`, 'cursor'],
        [`cursor=${cursorOf('2026-01-01 00:00:00+00', 'bad id!')}`, 'cursor'],
        ['q=%25', 'q'],
        ['cursor=not%20a%20cursor', 'cursor'],
        [`cursor=${Buffer.from('{"c":"x","i":"L-1"}').toString('base64url')}`, 'cursor'],
        ['cursor=e30', 'cursor'],
        ['sort=asc', 'sort'],
      ];
      for (const [query, field] of cases) {
        const response = await call(app, 'GET', `/v1/executions?${query}`);
        expect(response.statusCode, query).toBe(400);
        expect(response.json().error.code, query).toBe('BAD_INPUT');
        expect(response.json().error.field, query).toBe(field);
      }
    });

    it('takes the full ISO 8601 forms and walks from a cursor with an offset', async () => {
      const ids = async (query: string) =>
        (await getJson(app, `/v1/executions?q=L-&${query}`)).items.map(
          (item: { executionId: string }) => item.executionId,
        );
      expect(await ids('createdAfter=2026-01-06T01:00:00%2B01:00')).toEqual([
        'L-11',
        'L-10',
        'L-09',
      ]);
      expect(await ids('createdBefore=2026-01-01T00:00:00.000002Z')).toEqual(['L-01', 'L-00']);
      expect(await ids(`cursor=${cursorOf('2026-01-01 01:00:00.000002+01', 'L-02')}`)).toEqual([
        'L-01',
        'L-00',
      ]);
    });

    it("never shows another tenant's executions", async () => {
      const page = await getJson(app, '/v1/executions', GLOBEX);
      expect(page.items.map((item: { executionId: string }) => item.executionId)).toEqual([
        'L-00',
        'G-1',
      ]);
      // A cursor from acme's walk moves globex through globex's rows only.
      const first = await getJson(app, '/v1/executions?limit=1');
      const next = await getJson(app, `/v1/executions?cursor=${first.nextCursor}`, GLOBEX);
      expect(next.items.map((item: { executionId: string }) => item.executionId)).toEqual([
        'L-00',
        'G-1',
      ]);
    });
  });

  describe('GET /v1/executions/counts', () => {
    it('counts by workflow and state, by status, and blocked, with the list filters', async () => {
      expect(await getJson(app, '/v1/executions/counts?q=L-')).toEqual({
        byState: [
          { workflow: 'ticket-lifecycle', state: 'new', count: 8 },
          { workflow: 'ticket-lifecycle', state: 'in_progress', count: 4 },
        ],
        byStatus: [
          { status: 'active', count: 10 },
          { status: 'blocked', count: 1 },
          { status: 'completed', count: 1 },
        ],
        blocked: 1,
        truncated: false,
      });
      const globex = await getJson(app, '/v1/executions/counts', GLOBEX);
      expect(globex.byStatus).toEqual([{ status: 'active', count: 2 }]);
      expect(globex.blocked).toBe(0);
      const bad = await call(app, 'GET', '/v1/executions/counts?cursor=abc');
      expect(bad.statusCode).toBe(400);
      expect(bad.json().error.field).toBe('cursor');
    });
  });

  describe('an event no worker has worked on yet', () => {
    it('reads as pending in its view and the history, blocks nothing, and is no dead letter', async () => {
      await call(app, 'POST', '/v1/executions', ACME, {
        workflow: 'ticket-lifecycle',
        executionId: 'W-1',
      });
      const enqueued = await call(app, 'POST', '/v1/executions/W-1/events', ACME, {
        event: 'reopen',
      });
      const { eventId } = enqueued.json();
      // Enqueue writes no processing record: the worker writes it.
      expect(await rt.db.knex('workflow_event_processing').where({ event_id: eventId })).toEqual(
        [],
      );
      expect(await getJson(app, `/v1/events/${eventId}`)).toMatchObject({ status: 'pending' });
      const history = await getJson(app, '/v1/executions/W-1/events');
      expect(history.events.map((e: { status: string }) => e.status)).toEqual(['pending']);
      const listed = await getJson(app, '/v1/executions?q=W-1');
      expect(listed.items.map((x: { blocked: boolean }) => x.blocked)).toEqual([false]);
      expect((await getJson(app, '/v1/executions/counts?q=W-')).blocked).toBe(0);
      const dead = await getJson(app, '/v1/dead-letters');
      expect(JSON.stringify(dead)).not.toContain(eventId);
    });
  });

  describe('POST /v1/dead-letters/retry', () => {
    it('retries a selection with a result per event; another tenant gets NOT_FOUND', async () => {
      const ids: string[] = [];
      for (const executionId of ['D-1', 'D-2']) {
        await call(app, 'POST', '/v1/executions', ACME, {
          workflow: 'ticket-lifecycle',
          executionId,
        });
        const enqueued = await call(app, 'POST', `/v1/executions/${executionId}/events`, ACME, {
          event: 'reopen',
        });
        ids.push(enqueued.json().eventId);
      }
      // No worker runs yet: the events wait, and are dead-lettered as a failing worker would.
      for (const executionId of ['D-1', 'D-2']) {
        await rt.store.markDead({ tenant: 'acme', executionId }, 'boom');
      }
      const foreign = await call(app, 'POST', '/v1/dead-letters/retry', GLOBEX, { eventIds: ids });
      expect(foreign.statusCode).toBe(200);
      expect(foreign.json().results.map((r: { error: { code: string } }) => r.error.code)).toEqual([
        'NOT_FOUND',
        'NOT_FOUND',
      ]);
      const unknown = '00000000-0000-4000-8000-000000000000';
      const retried = await call(app, 'POST', '/v1/dead-letters/retry', ACME, {
        eventIds: [ids[0], unknown, ids[1]],
      });
      expect(retried.statusCode).toBe(200);
      expect(retried.json().results).toEqual([
        { eventId: ids[0], status: 'retried', executionId: 'D-1' },
        {
          eventId: unknown,
          status: 'error',
          httpStatus: 404,
          error: { code: 'NOT_FOUND', message: expect.any(String) },
        },
        { eventId: ids[1], status: 'retried', executionId: 'D-2' },
      ]);
      const again = await call(app, 'POST', '/v1/dead-letters/retry', ACME, { eventIds: [ids[0]] });
      expect(again.json().results[0]).toMatchObject({ status: 'error', httpStatus: 409 });

      const bad: Array<[unknown, string]> = [
        [{ eventIds: [] }, 'eventIds'],
        [{ eventIds: Array.from({ length: 101 }, () => unknown) }, 'eventIds'],
        [{ eventIds: [unknown, unknown] }, 'eventIds'],
        [{ eventIds: ['nope'] }, 'eventIds.0'],
        [{ ids: [unknown] }, 'eventIds'],
      ];
      for (const [body, field] of bad) {
        const response = await call(app, 'POST', '/v1/dead-letters/retry', ACME, body);
        expect(response.statusCode, JSON.stringify(body).slice(0, 80)).toBe(400);
        expect(response.json().error.field).toBe(field);
      }
    });
  });

  describe('an execution page', () => {
    it('lists actions with attempts and outcomes, snapshots, and the stream applied, per tenant', async () => {
      await rt.startConsumer();
      const started = await call(app, 'POST', '/v1/executions', ACME, {
        workflow: 'ticket-lifecycle',
        executionId: 'A-1',
        input: { requester: 'ana@example.com' },
      });
      expect(started.statusCode).toBe(201);
      for (const body of [
        { event: 'assign', payload: { assignee: 'bo' } },
        { event: 'resolve' },
        { event: 'reopen' },
        { event: 'resolve' },
        { event: 'close' },
      ]) {
        expect((await call(app, 'POST', '/v1/executions/A-1/events', ACME, body)).statusCode).toBe(
          202,
        );
      }
      await waitFor('the ticket closed and both actions succeeded', async () => {
        const page = await getJson(app, '/v1/executions/A-1/actions');
        const execution = await getJson(app, '/v1/executions/A-1');
        return (
          execution.state === 'closed' &&
          page.items.length === 2 &&
          page.items.every((a: { status: string }) => a.status === 'succeeded')
        );
      });

      const all = await getJson(app, '/v1/executions/A-1/actions');
      expect(all.nextCursor).toBeNull();
      expect(all.items[0]).toEqual({
        eventId: expect.any(String),
        seq: 2,
        event: 'resolve',
        action: 'notifyRequester',
        status: 'succeeded',
        attempts: 1,
        result: expect.objectContaining({ notified: 'ana@example.com' }),
        error: null,
        errorCode: null,
        createdAt: expect.any(String),
        updatedAt: expect.any(String),
      });
      const first = await getJson(app, '/v1/executions/A-1/actions?limit=1');
      expect(first.items).toEqual([all.items[0]]);
      const second = await getJson(
        app,
        `/v1/executions/A-1/actions?limit=1&cursor=${first.nextCursor}`,
      );
      expect(second.items).toEqual([all.items[1]]);
      expect(second.nextCursor).toBeNull();

      const snapshots = await getJson(app, '/v1/executions/A-1/snapshots');
      expect(snapshots.items.at(-1)).toEqual({
        seq: 0,
        state: 'new',
        data: expect.objectContaining({ requester: 'ana@example.com' }),
        createdAt: expect.any(String),
      });

      const stream = await getJson(app, '/v1/stream');
      expect(stream.bucketSeconds).toBe(10);
      expect(stream.applied).toHaveLength(60);
      const applied = stream.applied.reduce((n: number, b: { count: number }) => n + b.count, 0);
      expect(applied).toBe(5);
      expect(stream.backlog.readOk).toBe(true);
      expect(stream.backlog.lag).toEqual(expect.any(Number));
      expect(stream.consumers).toContainEqual(
        expect.objectContaining({ name: rt.settings.workerId, pending: expect.any(Number) }),
      );

      // globex: the execution does not exist, and none of acme's events count.
      for (const part of ['actions', 'snapshots']) {
        const foreign = await call(app, 'GET', `/v1/executions/A-1/${part}`, GLOBEX);
        expect(foreign.statusCode, part).toBe(404);
        expect(foreign.json().error.code).toBe('NOT_FOUND');
      }
      const theirs = await getJson(app, '/v1/stream', GLOBEX);
      expect(theirs.applied.every((b: { count: number }) => b.count === 0)).toBe(true);

      for (const query of ['limit=0', 'limit=201', 'cursor=e30', 'cursor=%21']) {
        const bad = await call(app, 'GET', `/v1/executions/A-1/actions?${query}`);
        expect(bad.statusCode, query).toBe(400);
      }
      expect((await call(app, 'GET', '/v1/executions/A-1/snapshots?limit=101')).statusCode).toBe(
        400,
      );
    });
  });

  describe('GET /v1/workflows', () => {
    it('shows each definition with its states, event schemas and declared transitions', async () => {
      const { items } = await getJson(app, '/v1/workflows');
      expect(items).toHaveLength(1);
      const ticket = items[0];
      expect(ticket).toMatchObject({
        name: 'ticket-lifecycle',
        version: 1,
        initialState: 'new',
        states: ['new', 'in_progress', 'resolved', 'closed'],
        finalStates: ['closed'],
        actions: [{ name: 'notifyRequester', onFailure: null }],
      });
      expect(ticket.events).toContainEqual({ name: 'resolve', payloadSchema: null });
      expect(ticket.events).toContainEqual({
        name: 'assign',
        payloadSchema: expect.objectContaining({ type: 'object', required: ['assignee'] }),
      });
      expect(ticket.transitions).toContainEqual({
        from: 'in_progress',
        event: 'resolve',
        to: 'resolved',
        guarded: false,
        actions: ['notifyRequester'],
      });
      // comment: from '*' (every non-final state), keeping the state.
      const comments = ticket.transitions.filter((t: { event: string }) => t.event === 'comment');
      expect(comments.map((t: { from: string; to: string }) => `${t.from}>${t.to}`)).toEqual([
        'new>new',
        'in_progress>in_progress',
        'resolved>resolved',
      ]);
    });
  });

  it("counts the console's routes against the tenant's request rate", async () => {
    const limited = await buildApiApp({
      runtime: rt,
      tokens: TOKENS,
      logger: silentLogger,
      settings: {
        ...DEFAULT_API_SETTINGS,
        tenants: {
          ...DEFAULT_API_SETTINGS.tenants,
          defaults: { requestsPerMinute: 6, concurrency: 0, queue: 0 },
        },
      },
    });
    try {
      const urls = [
        '/v1/executions',
        '/v1/executions/counts',
        '/v1/workflows',
        '/v1/stream',
        '/v1/executions/L-00/actions',
        '/v1/executions/L-00/snapshots',
      ];
      for (const url of urls) expect((await call(limited, 'GET', url)).statusCode, url).toBe(200);
      const over = await call(limited, 'GET', '/v1/executions');
      expect(over.statusCode).toBe(429);
      expect(over.json().error.code).toBe('RATE_LIMITED');
      expect(over.headers['retry-after']).toBeDefined();
    } finally {
      await limited.close();
    }
  });

  it('documents every console route in /openapi.json with its answer', async () => {
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
    const routes: Array<[string, string]> = [
      ['/v1/executions', 'get'],
      ['/v1/executions/counts', 'get'],
      ['/v1/executions/{executionId}/actions', 'get'],
      ['/v1/executions/{executionId}/snapshots', 'get'],
      ['/v1/workflows', 'get'],
      ['/v1/stream', 'get'],
      ['/v1/dead-letters/retry', 'post'],
    ];
    for (const [path, method] of routes) {
      const operation = doc.paths[path]?.[method];
      expect(operation, path).toBeDefined();
      expect(Object.keys(operation.responses), path).toEqual(
        expect.arrayContaining(['200', '400', '401', '429', '503']),
      );
      expect(operation.responses['200'].content['application/json'].schema, path).toBeDefined();
    }
  });
});
