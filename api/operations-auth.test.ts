import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_API_SETTINGS } from '../core/config/api-settings.js';
import { silentLogger, startTestRuntime, type TestRuntime } from '../test/support/runtime.js';
import { buildApiApp } from './app.js';

type App = Awaited<ReturnType<typeof buildApiApp>>;

const TENANT_TOKEN = 'acme-token-0001';
const OPERATIONS_TOKEN = 'scrape-token-0123456789';

function get(app: App, url: string, token?: string) {
  return app.inject({
    method: 'GET',
    url,
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  });
}

describe('/metrics and /openapi.json behind the operations token', () => {
  let rt: TestRuntime;
  let guarded: App;
  let open: App;

  beforeAll(async () => {
    rt = await startTestRuntime();
    const tokens = new Map([[TENANT_TOKEN, 'acme']]);
    guarded = await buildApiApp({
      runtime: rt,
      tokens,
      logger: silentLogger,
      settings: { ...DEFAULT_API_SETTINGS, operationsToken: OPERATIONS_TOKEN },
    });
    open = await buildApiApp({ runtime: rt, tokens, logger: silentLogger });
  });
  afterAll(async () => {
    await guarded.close();
    await open.close();
    await rt.close();
  });

  it('/metrics answers 401 without the operations token, even to a tenant, and 200 with it', async () => {
    for (const token of [undefined, TENANT_TOKEN, 'wrong-token-0123456789']) {
      const refused = await get(guarded, '/metrics', token);
      expect(refused.statusCode).toBe(401);
      expect(refused.json().error.code).toBe('UNAUTHORIZED');
      expect(refused.body).not.toContain('flowpool_api_requests_total');
    }
    const scraped = await get(guarded, '/metrics', OPERATIONS_TOKEN);
    expect(scraped.statusCode).toBe(200);
    expect(scraped.body).toContain('flowpool_api_requests_total');
  });

  it('/openapi.json answers 401 without a token, 200 with a tenant or the operations token', async () => {
    expect((await get(guarded, '/openapi.json')).statusCode).toBe(401);
    expect((await get(guarded, '/openapi.json', TENANT_TOKEN)).statusCode).toBe(200);
    const doc = await get(guarded, '/openapi.json', OPERATIONS_TOKEN);
    expect(doc.statusCode).toBe(200);
    // The document says so.
    expect(doc.json().paths['/metrics'].get.security).toEqual([{ bearerAuth: [] }]);
    expect(doc.json().paths['/metrics'].get.responses['401']).toBeDefined();
  });

  it('the operations token is not a tenant token, and health stays open', async () => {
    expect((await get(guarded, '/v1/dead-letters', OPERATIONS_TOKEN)).statusCode).toBe(401);
    expect((await get(guarded, '/healthz')).statusCode).toBe(200);
  });

  it('without the setting both stay open', async () => {
    expect((await get(open, '/metrics')).statusCode).toBe(200);
    expect((await get(open, '/openapi.json')).statusCode).toBe(200);
  });
});
