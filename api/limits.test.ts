import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_API_SETTINGS } from '../core/config/api-settings.js';
import { silentLogger, startTestRuntime, type TestRuntime } from '../test/support/runtime.js';
import { buildApiApp } from './app.js';

type App = Awaited<ReturnType<typeof buildApiApp>>;

const TOKEN = 'acme-token-0001';
const TOKENS = new Map([[TOKEN, 'acme']]);

function call(app: App, method: 'GET' | 'POST', url: string, body?: unknown) {
  return app.inject({
    method,
    url,
    headers: { authorization: `Bearer ${TOKEN}` },
    ...(body === undefined ? {} : { payload: body as Record<string, unknown> }),
  });
}

describe('API size bounds', () => {
  let rt: TestRuntime;
  let app: App;
  let small: App;

  beforeAll(async () => {
    rt = await startTestRuntime();
    app = await buildApiApp({ runtime: rt, tokens: TOKENS, logger: silentLogger });
    small = await buildApiApp({
      runtime: rt,
      tokens: TOKENS,
      logger: silentLogger,
      settings: {
        ...DEFAULT_API_SETTINGS,
        sizes: { eventPayloadBytes: 1_024, executionDataBytes: 512 },
        historyPageBytes: 1_024,
      },
    });
  });
  afterAll(async () => {
    await app.close();
    await small.close();
    await rt.close();
  });

  const start = async (target: App, executionId: string) => {
    const response = await call(target, 'POST', '/v1/executions', {
      workflow: 'ticket-lifecycle',
      executionId,
    });
    expect(response.statusCode, response.body).toBe(201);
  };

  it('refuses an event payload over 64 KiB by default with 413 PAYLOAD_TOO_LARGE, schema or not', async () => {
    await start(app, 'S-1');
    // `resolve` declares no payload schema: before the bound any JSON up to 1 MiB was stored.
    const bare = await call(app, 'POST', '/v1/executions/S-1/events', {
      event: 'resolve',
      payload: { blob: 'x'.repeat(100_000) },
    });
    expect(bare.statusCode).toBe(413);
    expect(bare.json().error).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', field: 'payload' });
    expect(bare.json().error.message).toContain('65536');
    const fits = await call(app, 'POST', '/v1/executions/S-1/events', {
      event: 'resolve',
      payload: { blob: 'x'.repeat(60_000) },
    });
    expect(fits.statusCode).toBe(202);
    const history = await call(app, 'GET', '/v1/executions/S-1/events');
    expect(history.json().events).toHaveLength(1);
  });

  it('holds a configured bound for events with a payload schema too', async () => {
    await start(small, 'S-2');
    const comment = await call(small, 'POST', '/v1/executions/S-2/events', {
      event: 'comment',
      payload: { text: 'y'.repeat(5_000) },
    });
    expect(comment.statusCode).toBe(413);
    expect(comment.json().error).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', field: 'payload' });
    const short = await call(small, 'POST', '/v1/executions/S-2/events', {
      event: 'comment',
      payload: { text: 'short' },
    });
    expect(short.statusCode).toBe(202);
  });

  it("bounds an execution's data at start: 413 DATA_TOO_LARGE, nothing stored", async () => {
    const response = await call(small, 'POST', '/v1/executions', {
      workflow: 'ticket-lifecycle',
      executionId: 'S-3',
      input: { title: 't'.repeat(490), requester: 'ana@example.com' },
    });
    expect(response.statusCode).toBe(413);
    expect(response.json().error).toMatchObject({ code: 'DATA_TOO_LARGE', field: 'input' });
    expect((await call(small, 'GET', '/v1/executions/S-3')).statusCode).toBe(404);
  });

  it('pages history by bytes as well as count, with nextAfterSeq to continue', async () => {
    await start(app, 'H-1');
    // Written straight to the store, as events stored before the payload bound would be.
    for (let i = 0; i < 5; i++) {
      await rt.store.appendEvent({
        tenant: 'acme',
        executionId: 'H-1',
        eventId: randomUUID(),
        name: 'comment',
        payload: { text: `${i}`.repeat(300_000) },
      });
    }
    const seen: number[] = [];
    const pages: number[][] = [];
    let afterSeq = 0;
    for (;;) {
      const response = await call(
        app,
        'GET',
        `/v1/executions/H-1/events?limit=1000&afterSeq=${afterSeq}`,
      );
      expect(response.statusCode).toBe(200);
      const body = response.json() as { events: Array<{ seq: number }>; nextAfterSeq?: number };
      const seqs = body.events.map((event) => event.seq);
      pages.push(seqs);
      seen.push(...seqs);
      if (body.nextAfterSeq === undefined) break;
      expect(body.nextAfterSeq).toBe(seqs.at(-1));
      afterSeq = body.nextAfterSeq;
    }
    // 1 MiB of payload per page by default: three events of ~300 KB, then two.
    expect(pages).toEqual([
      [1, 2, 3],
      [4, 5],
    ]);
    expect(seen).toEqual([1, 2, 3, 4, 5]);
    // An event larger than the page bound still comes, alone.
    const alone = await call(small, 'GET', '/v1/executions/H-1/events?afterSeq=1');
    expect(alone.json().events.map((event: { seq: number }) => event.seq)).toEqual([2]);
    expect(alone.json().nextAfterSeq).toBe(2);
    // The count bound sets the cursor too; the last page has none.
    const counted = await call(app, 'GET', '/v1/executions/H-1/events?limit=2');
    expect(counted.json().events).toHaveLength(2);
    expect(counted.json().nextAfterSeq).toBe(2);
    const end = await call(app, 'GET', '/v1/executions/H-1/events?afterSeq=4&limit=1');
    expect(end.json().events).toHaveLength(1);
    expect(end.json().nextAfterSeq).toBeUndefined();
  });

  it('documents the cursor and the 413 codes in /openapi.json', async () => {
    const doc = (await call(app, 'GET', '/openapi.json')).json();
    const list = doc.paths['/v1/executions/{executionId}/events'].get;
    const schema = list.responses['200'].content['application/json'].schema;
    expect(schema.properties.nextAfterSeq).toMatchObject({ type: 'integer' });
    const enqueue = doc.paths['/v1/executions/{executionId}/events'].post;
    expect(enqueue.responses['413'].description).toContain('PAYLOAD_TOO_LARGE');
  });
});
