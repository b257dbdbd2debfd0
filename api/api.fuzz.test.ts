import net from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger, startTestRuntime, type TestRuntime } from '../test/support/runtime.js';
import { buildApiApp } from './app.js';
import { isoInstantText, isPgTimestamp } from './instant.js';

/**
 * Property tests: malformed requests of every kind get a 4xx, never a 5xx,
 * never crash the process, and write nothing (no row in any of the five
 * tables, no stream entry).
 */

type App = Awaited<ReturnType<typeof buildApiApp>>;

const ACME = 'acme-token-fuzz-0001';
const GLOBEX = 'globex-token-fuzz-0001';
const TOKENS = new Map([
  [ACME, 'acme'],
  [GLOBEX, 'globex'],
]);
const ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$/;
const KNOWN_EVENTS = ['assign', 'comment', 'resolve', 'reopen', 'close'];
const START_FIELDS = ['workflow', 'executionId', 'input'];
const ENQUEUE_FIELDS = ['event', 'payload', 'idempotencyKey'];

interface Req {
  kind: string;
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string;
}

/** Ids created before the run: the malformed requests aim at them. */
interface Seeded {
  acmeExecution: string;
  globexExecution: string;
  acmeEvent: string;
  globexEvent: string;
}

const auth = (token: string) => ({ authorization: `Bearer ${token}` });
const json = { 'content-type': 'application/json' };

/** Header-safe text: what a client can actually put in a header value. */
const headerText = fc
  .array(fc.integer({ min: 0x20, max: 0x7e }), { maxLength: 60 })
  .map((codes) => String.fromCharCode(...codes).trim());

/** Any JSON value, including the nasty ones (NUL, lone surrogates, deep nesting). */
const jsonValue = fc.oneof(
  { weight: 6, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: fc.constantFrom('a\u0000b', '\ud800', 'x\udfffy', { k: '\u0000' }) },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 65, max: 400 }).map((depth) => {
      let value: unknown = 1;
      for (let i = 0; i < depth; i++) value = i % 2 ? [value] : { d: value };
      return value;
    }),
  },
);

const notAString = fc.oneof(
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 3 }),
  fc.double(),
);
const badId = fc.oneof(
  fc.string({ maxLength: 40 }).filter((s) => !ID.test(s)),
  fc.constantFrom('', ' ', 'a b', '../etc', 'é', 'x'.repeat(201), '-leading', 'a\u0000'),
);
const extraKey = (allowed: string[]) =>
  fc.string({ minLength: 1, maxLength: 12 }).filter((k) => !allowed.includes(k));
/** Unstorable or too deep: invalid whatever the schema says. */
const poison = fc.constantFrom<unknown>(
  'nul\u0000here',
  { note: '\ud83d' },
  ['\udc00'],
  { '\u0000key': 1 },
  JSON.parse(`${'['.repeat(70)}1${']'.repeat(70)}`),
);

/** Bodies for POST /v1/executions that are wrong in at least one way. */
const badStartBody: fc.Arbitrary<unknown> = fc.oneof(
  fc.record({ workflow: notAString }),
  fc.record({
    workflow: fc.string({ maxLength: 30 }).filter((w) => w !== 'ticket-lifecycle'),
  }),
  fc.record({ workflow: fc.constant('ticket-lifecycle'), executionId: badId }),
  fc.record({ workflow: fc.constant('ticket-lifecycle'), executionId: notAString }),
  fc.record({
    workflow: fc.constant('ticket-lifecycle'),
    input: fc.oneof(
      fc.record({ title: notAString }),
      fc.record({ requester: notAString }),
      fc.dictionary(extraKey(['title', 'requester']), jsonValue, { minKeys: 1, maxKeys: 3 }),
      fc.oneof(fc.integer(), fc.string(), fc.array(jsonValue, { maxLength: 3 })),
      poison,
    ),
  }),
  fc
    .tuple(extraKey(START_FIELDS), jsonValue)
    .map(([key, value]) => ({ workflow: 'ticket-lifecycle', [key]: value })),
  fc.constantFrom(null, 0, 'ticket-lifecycle', [], [{ workflow: 'ticket-lifecycle' }], true),
  fc.constant({ workflow: 'ticket-lifecycle', tenant: 'globex' }),
);

/** Bodies for POST /v1/executions/:id/events that are wrong in at least one way. */
const badEnqueueBody: fc.Arbitrary<unknown> = fc.oneof(
  fc.record({ event: notAString }),
  fc.record({ event: fc.string({ maxLength: 30 }).filter((e) => !KNOWN_EVENTS.includes(e)) }),
  // What every object inherits: a lookup that is not by own property finds these.
  fc.record({
    event: fc.constantFrom('toString', 'constructor', '__proto__', 'hasOwnProperty', 'valueOf'),
  }),
  fc.record({
    event: fc.constant('assign'),
    payload: fc.oneof(
      fc.record({ assignee: notAString }),
      fc.constant({}),
      fc.constant({ assignee: '' }),
      fc.record({ assignee: fc.constant('bo'), extra: jsonValue }),
      fc.oneof(fc.integer(), fc.string(), fc.constant(null), fc.array(jsonValue, { maxLength: 2 })),
    ),
  }),
  fc.record({
    event: fc.constant('comment'),
    payload: fc.oneof(
      fc.record({ text: notAString }),
      fc.record({ text: fc.string({ minLength: 10_001, maxLength: 10_050 }) }),
      fc.record({ text: fc.constant('hi'), more: jsonValue }),
    ),
  }),
  // Bare events take any payload, so only unstorable ones are wrong.
  fc.record({ event: fc.constantFrom('resolve', 'close', 'reopen'), payload: poison }),
  fc.record({
    event: fc.constant('resolve'),
    idempotencyKey: fc.oneof(
      notAString,
      fc.constant(''),
      fc.constant('k'.repeat(201)),
      fc.constant('a\u0000'),
    ),
  }),
  fc
    .tuple(extraKey(ENQUEUE_FIELDS), jsonValue)
    .map(([key, value]) => ({ event: 'resolve', [key]: value })),
  fc.constantFrom(null, 1, 'resolve', [{ event: 'resolve' }], false),
);

/** Text that JSON.parse refuses. */
const badJsonText = fc.oneof(
  fc.string({ maxLength: 80 }).filter((text) => {
    try {
      JSON.parse(text);
      return false;
    } catch {
      return true;
    }
  }),
  fc.constantFrom(
    '{',
    '{"workflow":}',
    '[1,]',
    'NaN',
    "{'workflow':'ticket-lifecycle'}",
    '{"workflow":"ticket-lifecycle"}}',
    '\u0000',
    '{"__proto__":{"admin":true},"workflow":"ticket-lifecycle"}',
    '{"constructor":{"prototype":{"x":1}},"event":"resolve"}',
    '{"event":"resolve"',
  ),
);

const realGet = [
  /^\/healthz$/,
  /^\/readyz$/,
  /^\/metrics$/,
  /^\/openapi\.json$/,
  /^\/console(\/.*)?$/,
  /^\/v1\/executions$/,
  /^\/v1\/executions\/[^/]+$/,
  /^\/v1\/executions\/[^/]+\/(events|actions|snapshots)$/,
  /^\/v1\/events\/[^/]+$/,
  /^\/v1\/dead-letters$/,
  /^\/v1\/workflows$/,
  /^\/v1\/stream$/,
];
const realPost = [
  /^\/v1\/executions$/,
  /^\/v1\/executions\/[^/]+\/events$/,
  /^\/v1\/events\/batch$/,
  /^\/v1\/dead-letters\/retry$/,
  /^\/v1\/dead-letters\/[^/]+\/retry$/,
];

function segment(): fc.Arbitrary<string> {
  return fc.oneof(
    fc.constantFrom(
      'v1',
      'v2',
      'executions',
      'events',
      'dead-letters',
      'retry',
      'A-1',
      '..',
      '%2F',
    ),
    fc.stringMatching(/^[A-Za-z0-9._~%-]{1,12}$/),
  );
}

function requests(seeded: Seeded): fc.Arbitrary<Req> {
  const { acmeExecution: mine, globexExecution: theirs } = seeded;
  const postBody = (kind: string, url: string, body: unknown, token = ACME): Req => ({
    kind,
    method: 'POST',
    url,
    headers: { ...auth(token), ...json },
    body: JSON.stringify(body),
  });
  const enqueueUrl = `/v1/executions/${mine}/events`;

  const badJson = fc
    .tuple(fc.constantFrom('/v1/executions', enqueueUrl), badJsonText)
    .map(([url, body]) => ({
      kind: 'bad JSON',
      method: 'POST',
      url,
      headers: { ...auth(ACME), ...json },
      body,
    }));
  const wrongStart = badStartBody.map((body) =>
    postBody('wrong start body', '/v1/executions', body),
  );
  const wrongEnqueue = badEnqueueBody.map((body) => postBody('wrong event body', enqueueUrl, body));
  const huge = fc
    .tuple(
      fc.constantFrom('/v1/executions', enqueueUrl),
      fc.integer({ min: 1_048_577, max: 1_200_000 }),
    )
    .map(([url, size]) => {
      const body =
        url === '/v1/executions'
          ? { workflow: 'ticket-lifecycle', input: { title: '' } }
          : { event: 'comment', payload: { text: '' } };
      const text = JSON.stringify(body).replace('""', `"${'x'.repeat(size)}"`);
      return {
        kind: 'huge body',
        method: 'POST',
        url,
        headers: { ...auth(ACME), ...json },
        body: text,
      };
    });
  const unknownRoute = fc
    .tuple(
      fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'),
      fc.array(segment(), { minLength: 0, maxLength: 5 }),
      fc.boolean(),
    )
    .map(([method, segments, withToken]) => ({
      kind: 'unknown route',
      method,
      url: `/${segments.join('/')}`,
      headers: withToken ? auth(ACME) : {},
    }))
    .filter(({ method, url }) => {
      const routes = method === 'GET' ? realGet : method === 'POST' ? realPost : [];
      return !routes.some((route) => route.test(url.split('?')[0]!));
    });
  const wrongMethod = fc
    .tuple(
      fc.constantFrom('PUT', 'DELETE', 'PATCH', 'OPTIONS'),
      fc.constantFrom(
        '/v1/executions',
        `/v1/executions/${mine}`,
        enqueueUrl,
        `/v1/events/${seeded.acmeEvent}`,
        '/v1/dead-letters',
      ),
    )
    .map(([method, url]) => ({
      kind: 'wrong method',
      method,
      url,
      headers: { ...auth(ACME), ...json },
      body: '{"event":"resolve"}',
    }));
  // Well-formed requests for another tenant's things: 404, as if they did not exist.
  const otherTenant = fc
    .tuple(fc.boolean(), fc.integer({ min: 0, max: 4 }))
    .map(([asGlobex, which]): Req => {
      const token = asGlobex ? GLOBEX : ACME;
      const execution = asGlobex ? mine : theirs;
      const event = asGlobex ? seeded.acmeEvent : seeded.globexEvent;
      const get = (url: string): Req => ({
        kind: 'other tenant',
        method: 'GET',
        url,
        headers: auth(token),
      });
      switch (which) {
        case 0:
          return postBody(
            'other tenant',
            `/v1/executions/${execution}/events`,
            {
              event: 'comment',
              payload: { text: 'let me in' },
            },
            token,
          );
        case 1:
          return get(`/v1/executions/${execution}`);
        case 2:
          return get(`/v1/executions/${execution}/events`);
        case 3:
          return get(`/v1/events/${event}`);
        default:
          return { ...postBody('other tenant', `/v1/dead-letters/${event}/retry`, {}, token) };
      }
    });
  // Valid requests with missing or wrong credentials: 401 and no write.
  const badAuth = fc
    .tuple(
      fc.oneof(
        fc.constant(undefined),
        fc.constantFrom(
          'Bearer',
          'Bearer ',
          `bearer${ACME}`,
          `Basic ${Buffer.from(`acme:${ACME}`).toString('base64')}`,
          `Token ${ACME}`,
          `Bearer ${ACME}x`,
          `Bearer ${ACME.slice(0, -1)}`,
          `Bearer ${ACME} ${ACME}`,
          `Bearer ${ACME.toUpperCase()}`,
        ),
        headerText.filter((text) => !text.endsWith(ACME) && !text.endsWith(GLOBEX)),
        headerText.map((text) => `Bearer ${text}`),
      ),
      fc.constantFrom<[string, unknown]>(
        ['/v1/executions', { workflow: 'ticket-lifecycle' }],
        [enqueueUrl, { event: 'comment', payload: { text: 'x' } }],
        [`/v1/dead-letters/${seeded.acmeEvent}/retry`, {}],
      ),
    )
    .map(([authorization, [url, body]]) => ({
      kind: 'bad credentials',
      method: 'POST',
      url,
      headers: { ...(authorization === undefined ? {} : { authorization }), ...json },
      body: JSON.stringify(body),
    }));
  // Valid bodies sent with headers that make them unacceptable.
  const weirdHeaders = fc
    .tuple(
      fc.oneof(
        fc.record({
          'content-type': fc.oneof(
            fc.constantFrom(
              'text/plain',
              'application/xml',
              'application/x-www-form-urlencoded',
              'multipart/form-data; boundary=x',
              'application/jsonx',
              'json',
              '*/*',
              'application/octet-stream',
            ),
            headerText.filter((t) => !/^application\/(.*\+)?json\s*(;|$)/i.test(t)),
          ),
        }),
        fc.record({
          'content-type': fc.constant('application/json'),
          'content-encoding': fc.constantFrom(
            'gzip',
            'br',
            'deflate',
            'x-unknown',
            'gzip, identity',
          ),
        }),
      ),
      fc.record(
        {
          accept: fc.constantFrom('text/html', '*/*', 'application/xml', 'garbage'),
          'x-forwarded-for': fc.constantFrom('1.2.3.4', 'not-an-ip', '::1'),
          'accept-version': fc.constantFrom('1', 'x'),
          'x-tenant': fc.constantFrom('globex', 'acme'),
        },
        { requiredKeys: [] },
      ),
    )
    .map(([type, extra]) => ({
      kind: 'weird headers',
      method: 'POST',
      url: '/v1/executions',
      headers: { ...auth(ACME), ...extra, ...type } as Record<string, string>,
      body: JSON.stringify({ workflow: 'ticket-lifecycle' }),
    }));
  const badQuery = fc
    .tuple(
      fc.constantFrom(`/v1/executions/${mine}/events`, '/v1/dead-letters'),
      fc.constantFrom('afterSeq', 'limit'),
      fc.oneof(
        fc.constantFrom('-1', '1.5', '1e3', '0x10', 'abc', '', ' 1', '99999999999999999999', 'NaN'),
        fc.integer({ min: 1001, max: 1_000_000_000 }).map(String),
        fc.constant('0'),
      ),
    )
    .filter(([url, name]) => !(url === '/v1/dead-letters' && name === 'afterSeq'))
    // Large and zero values are wrong only for limit.
    .filter(([, name, value]) => name === 'limit' || !/^(0|\d{4,10})$/.test(value))
    .map(([url, name, value]) => ({
      kind: 'bad query',
      method: 'GET',
      url: `${url}?${name}=${encodeURIComponent(value)}`,
      headers: auth(ACME),
    }));
  const badParams = fc
    .tuple(
      fc.constantFrom('execution', 'events', 'event', 'retry', 'enqueue'),
      fc.oneof(
        badId,
        fc.uuid().map((u) => `${u}x`),
        fc.string({ maxLength: 40 }),
      ),
    )
    .filter(([where, id]) => (where === 'event' || where === 'retry' ? true : !ID.test(id)))
    .map(([where, id]): Req => {
      const encoded = encodeURIComponent(id) || '%20';
      const base = { kind: 'bad path parameter', headers: auth(ACME) };
      switch (where) {
        case 'execution':
          return { ...base, method: 'GET', url: `/v1/executions/${encoded}` };
        case 'events':
          return { ...base, method: 'GET', url: `/v1/executions/${encoded}/events` };
        case 'event':
          return { ...base, method: 'GET', url: `/v1/events/${encoded}` };
        case 'retry':
          return { ...base, method: 'POST', url: `/v1/dead-letters/${encoded}/retry` };
        default:
          return postBody('bad path parameter', `/v1/executions/${encoded}/events`, {
            event: 'resolve',
          });
      }
    });

  // The console's list and counts: values that must be refused, never reach PostgreSQL as an error.
  const pgLikeTime = fc
    .tuple(
      fc.integer({ min: 0, max: 99_999 }),
      fc.integer({ min: 0, max: 99 }),
      fc.integer({ min: 0, max: 99 }),
      fc.integer({ min: 0, max: 99 }),
      fc.integer({ min: -99, max: 99 }),
    )
    .map(([y, mo, d, h, z]) => {
      const two = (n: number) => String(Math.abs(n)).padStart(2, '0');
      return `${String(y).padStart(4, '0')}-${two(mo)}-${two(d)} ${two(h)}:00:00${z < 0 ? '-' : '+'}${two(z)}`;
    });
  const badConsoleQuery = fc
    .oneof(
      fc.tuple(
        fc.constantFrom('createdAfter', 'createdBefore'),
        fc.oneof(
          fc.string({ maxLength: 40 }),
          pgLikeTime.map((t) => t.replace(' ', 'T')),
        ),
      ),
      fc.tuple(
        fc.constant('cursor'),
        fc
          .record({
            c: fc.oneof(pgLikeTime, fc.string()),
            i: fc.oneof(fc.string(), fc.constant('x')),
          })
          .map((position) => Buffer.from(JSON.stringify(position)).toString('base64url')),
      ),
      fc.tuple(
        fc.constantFrom('limit', 'status', 'blocked', 'q', 'workflow'),
        fc.string({ maxLength: 20 }),
      ),
    )
    .filter(([name, value]) => !acceptedConsoleValue(name, value))
    .chain(([name, value]) =>
      fc.constantFrom('/v1/executions', '/v1/executions/counts').map((url) => ({
        kind: 'bad console query',
        method: 'GET',
        url: `${url}?${name}=${encodeURIComponent(value)}`,
        headers: auth(ACME),
      })),
    );

  return fc.oneof(
    { weight: 2, arbitrary: badConsoleQuery },
    { weight: 3, arbitrary: badJson },
    { weight: 5, arbitrary: wrongStart },
    { weight: 6, arbitrary: wrongEnqueue },
    { weight: 1, arbitrary: huge },
    { weight: 3, arbitrary: unknownRoute },
    { weight: 1, arbitrary: wrongMethod },
    { weight: 3, arbitrary: otherTenant },
    { weight: 3, arbitrary: badAuth },
    { weight: 2, arbitrary: weirdHeaders },
    { weight: 2, arbitrary: badQuery },
    { weight: 3, arbitrary: badParams },
  );
}

/** Whether the list would take this value (then it is no malformed request). */
function acceptedConsoleValue(name: string, value: string): boolean {
  switch (name) {
    case 'createdAfter':
    case 'createdBefore':
      return isoInstantText(value) !== undefined;
    case 'cursor': {
      const position = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
      return isPgTimestamp(String(position.c)) && ID.test(String(position.i));
    }
    case 'limit':
      return /^(0|[1-9][0-9]{0,15})$/.test(value) && Number(value) >= 1 && Number(value) <= 200;
    case 'status':
      return ['active', 'completed', 'blocked'].includes(value);
    case 'blocked':
      return value === 'true' || value === 'false';
    case 'q':
      return ID.test(value);
    default:
      // workflow: any 1-200 characters without NUL.
      return value.length > 0 && !value.includes('\u0000');
  }
}

async function footprint(rt: TestRuntime): Promise<string> {
  const result = await rt.db.knex.raw(
    `select (select count(*) from workflow_executions) as executions,
            (select count(*) from workflow_events) as events,
            (select count(*) from workflow_event_processing) as processing,
            (select count(*) from workflow_snapshots) as snapshots,
            (select count(*) from workflow_action_results) as actions,
            (select coalesce(max(updated_at), 'epoch') from workflow_executions) as touched,
            (select count(*) from workflow_events where status <> 'pending') as settled`,
  );
  const stream = await rt.redisHandle.redis.xlen(rt.settings.stream);
  return JSON.stringify({ ...result.rows[0], stream });
}

/**
 * Sends one request over a raw TCP socket (Connection: close, so the server
 * closes after answering); resolves with the status, or undefined when no
 * answer came within `quietMs` (a request that never completes).
 */
function rawRequest(port: number, bytes: Buffer, quietMs = 3_000): Promise<number | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    let received = '';
    const finish = () => {
      clearTimeout(timer);
      const match = /^HTTP\/1\.[01] (\d{3})/.exec(received);
      resolve(match ? Number(match[1]) : undefined);
    };
    const timer = setTimeout(() => socket.destroy(), quietMs);
    socket.on('data', (chunk) => {
      received += chunk.toString('latin1');
    });
    socket.on('error', () => {
      // A reset after the server answered and closed: the status is already in `received`.
    });
    socket.on('close', finish);
    socket.write(bytes);
  });
}

function toBytes(request: Req): Buffer {
  const body = request.body === undefined ? Buffer.alloc(0) : Buffer.from(request.body, 'utf8');
  const headers = { ...request.headers, host: '127.0.0.1', connection: 'close' } as Record<
    string,
    string
  >;
  if (request.body !== undefined) headers['content-length'] = String(body.length);
  const head = [`${request.method} ${request.url} HTTP/1.1`]
    .concat(Object.entries(headers).map(([name, value]) => `${name}: ${value}`))
    .join('\r\n');
  return Buffer.concat([Buffer.from(`${head}\r\n\r\n`, 'latin1'), body]);
}

/** Things that are not quite HTTP. */
const protocolJunk = fc.oneof(
  fc.string({ maxLength: 200 }).map((text) => Buffer.from(`${text}\r\n\r\n`, 'utf8')),
  fc
    .constantFrom(
      'GET /healthz HTTP/9.9\r\n\r\n',
      'POST /v1/executions HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n',
      'POST /v1/executions HTTP/1.1\r\nhost: x\r\ncontent-length: -1\r\n\r\n',
      'POST /v1/executions HTTP/1.1\r\nhost: x\r\ncontent-length: 1, 2\r\n\r\n{',
      `GET /v1/executions/${'a'.repeat(20_000)} HTTP/1.1\r\nhost: x\r\n\r\n`,
      `GET /healthz HTTP/1.1\r\nhost: x\r\nx-big: ${'b'.repeat(20_000)}\r\n\r\n`,
      'GET /healthz HTTP/1.1\r\nbad header\r\n\r\n',
      'GET\r\n\r\n',
      '\u0000\u0001\u0002\r\n\r\n',
    )
    .map((text) => Buffer.from(text, 'latin1')),
);

describe('the API under malformed requests', () => {
  let rt: TestRuntime;
  let app: App;
  let seeded: Seeded;
  const seen = new Map<string, number>();

  beforeAll(async () => {
    rt = await startTestRuntime();
    app = await buildApiApp({ runtime: rt, tokens: TOKENS, logger: silentLogger });
    const start = async (token: string) =>
      (
        await app.inject({
          method: 'POST',
          url: '/v1/executions',
          headers: auth(token),
          payload: { workflow: 'ticket-lifecycle' },
        })
      ).json().executionId as string;
    const enqueue = async (token: string, executionId: string) =>
      (
        await app.inject({
          method: 'POST',
          url: `/v1/executions/${executionId}/events`,
          headers: auth(token),
          payload: { event: 'comment', payload: { text: 'seed' } },
        })
      ).json().eventId as string;
    const acmeExecution = await start(ACME);
    const globexExecution = await start(GLOBEX);
    seeded = {
      acmeExecution,
      globexExecution,
      acmeEvent: await enqueue(ACME, acmeExecution),
      globexEvent: await enqueue(GLOBEX, globexExecution),
    };
    // Dead, so a retry by its own tenant would write: the other tenant's retry must not.
    await rt.store.markDead({ tenant: 'acme', executionId: acmeExecution }, 'seeded');
    await rt.store.markDead({ tenant: 'globex', executionId: globexExecution }, 'seeded');
  });
  afterAll(async () => {
    await app.close();
    await rt.close();
    console.info(
      `malformed requests sent, by kind: ${JSON.stringify(Object.fromEntries([...seen].sort()))}`,
    );
  });

  it('answers thousands of malformed requests (inject) with 4xx and writes nothing', async () => {
    const before = await footprint(rt);
    await fc.assert(
      fc.asyncProperty(requests(seeded), async (request) => {
        seen.set(`inject ${request.kind}`, (seen.get(`inject ${request.kind}`) ?? 0) + 1);
        const response = await app.inject({
          method: request.method as 'GET',
          url: request.url,
          headers: request.headers,
          ...(request.body === undefined ? {} : { payload: request.body }),
        });
        const where = `${request.kind}: ${request.method} ${request.url.slice(0, 120)} → ${response.statusCode} ${response.body.slice(0, 300)}`;
        expect(response.statusCode, where).toBeGreaterThanOrEqual(400);
        expect(response.statusCode, where).toBeLessThan(500);
        if (request.method !== 'HEAD') {
          const body = response.json();
          expect(typeof body.error?.code, where).toBe('string');
          expect(response.body, where).not.toMatch(/\n\s+at /);
        }
        if (request.kind === 'other tenant') expect(response.statusCode, where).toBe(404);
        if (request.kind === 'bad credentials') expect(response.statusCode, where).toBe(401);
        if (request.kind === 'huge body') expect(response.statusCode, where).toBe(413);
        expect(await footprint(rt), where).toBe(before);
      }),
      { numRuns: 3_000 },
    );
    const health = await app.inject({ method: 'GET', url: '/healthz' });
    expect(health.statusCode).toBe(200);
  });

  it('answers malformed requests and protocol junk over a real socket with 4xx', async () => {
    const socketApp = await buildApiApp({ runtime: rt, tokens: TOKENS, logger: silentLogger });
    await socketApp.listen({ port: 0, host: '127.0.0.1' });
    const port = (socketApp.server.address() as net.AddressInfo).port;
    const before = await footprint(rt);
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            { weight: 4, arbitrary: requests(seeded).map((r) => ({ junk: false, r })) },
            { weight: 1, arbitrary: protocolJunk.map((bytes) => ({ junk: true, bytes })) },
          ),
          async (pick) => {
            const kind = pick.junk ? 'protocol junk' : (pick as { r: Req }).r.kind;
            seen.set(`socket ${kind}`, (seen.get(`socket ${kind}`) ?? 0) + 1);
            const bytes = pick.junk
              ? (pick as { bytes: Buffer }).bytes
              : toBytes((pick as { r: Req }).r);
            const status = await rawRequest(port, bytes);
            const where = `${kind}: ${bytes.toString('latin1').slice(0, 200)} → ${status}`;
            // Junk that never completes a request may be closed without an answer.
            if (!(pick.junk && status === undefined)) {
              expect(status, where).toBeGreaterThanOrEqual(400);
              expect(status, where).toBeLessThan(500);
            }
            expect(await footprint(rt), where).toBe(before);
          },
        ),
        { numRuns: 400 },
      );
      const health = await fetch(`http://127.0.0.1:${port}/healthz`);
      expect(health.status).toBe(200);
    } finally {
      await socketApp.close();
    }
  });
});
