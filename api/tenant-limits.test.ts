import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_API_SETTINGS, type TenantLimits } from '../core/config/api-settings.js';
import { waitFor } from '../local/process.js';
import { withGetExecution } from '../test/support/api-services.js';
import { silentLogger, startTestRuntime, type TestRuntime } from '../test/support/runtime.js';
import { type ApiServices, buildApiApp } from './app.js';

type App = Awaited<ReturnType<typeof buildApiApp>>;

const ACME = 'acme-token-0001';
const ACME_2 = 'acme-token-0002';
const GLOBEX = 'globex-token-0001';
const TOKENS = new Map([
  [ACME, 'acme'],
  [ACME_2, 'acme'],
  [GLOBEX, 'globex'],
]);

/** The api with these tenant bounds and the default settings otherwise. */
function appWithTenants(runtime: ApiServices, tenants: TenantLimits): Promise<App> {
  return buildApiApp({
    runtime,
    tokens: TOKENS,
    logger: silentLogger,
    settings: { ...DEFAULT_API_SETTINGS, tenants },
  });
}

function get(app: App, url: string, token: string) {
  return app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });
}

describe('per-tenant request bounds', () => {
  let rt: TestRuntime;

  beforeAll(async () => {
    rt = await startTestRuntime();
    await rt.store.createExecution({
      tenant: 'acme',
      executionId: 'R-1',
      workflowName: 'ticket-lifecycle',
      workflowVersion: 1,
      state: 'new',
      data: {},
    });
  });
  afterAll(async () => {
    await rt.close();
  });

  /**
   * The runtime with acme's execution reads held at a gate once inside the
   * handler, as slow queries holding connections would be.
   */
  function gatedReads(): { runtime: ApiServices; open: () => void; entered: () => number } {
    let entered = 0;
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const runtime = withGetExecution(rt, async (tenant, executionId) => {
      if (tenant === 'acme') {
        entered++;
        await gate;
      }
      return rt.service.getExecution(tenant, executionId);
    });
    return { runtime, open: () => release(), entered: () => entered };
  }

  it('answers 429 RATE_LIMITED with Retry-After past the per-minute rate; a tenant override applies', async () => {
    const app = await appWithTenants(rt, {
      defaults: { requestsPerMinute: 3, concurrency: 0, queue: 0 },
      maxWaitMs: 0,
      overrides: new Map([['globex', { requestsPerMinute: 10, concurrency: 0, queue: 0 }]]),
    });
    try {
      // Both of acme's tokens count against acme.
      for (const token of [ACME, ACME_2, ACME]) {
        expect((await get(app, '/v1/executions/R-1', token)).statusCode).toBe(200);
      }
      const refused = await get(app, '/v1/executions/R-1', ACME_2);
      expect(refused.statusCode).toBe(429);
      expect(refused.json().error.code).toBe('RATE_LIMITED');
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
      // Another tenant is not held back by acme, and has its own, larger allowance.
      for (let i = 0; i < 10; i++) {
        expect((await get(app, '/v1/executions/R-1', GLOBEX)).statusCode).toBe(404);
      }
      expect((await get(app, '/v1/executions/R-1', GLOBEX)).statusCode).toBe(429);
      // Unauthenticated requests are refused before they count.
      const anonymous = await app.inject({ method: 'GET', url: '/v1/executions/R-1' });
      expect(anonymous.statusCode).toBe(401);
    } finally {
      await app.close();
    }
  });

  it('queues a tenant past its concurrency, then answers 429 TOO_MANY_IN_FLIGHT; other tenants are served', async () => {
    const { runtime: slow, open, entered } = gatedReads();
    const app = await appWithTenants(slow, {
      defaults: { requestsPerMinute: 0, concurrency: 2, queue: 1 },
      maxWaitMs: 25_000,
      overrides: new Map(),
    });
    try {
      const held = [get(app, '/v1/executions/R-1', ACME), get(app, '/v1/executions/R-1', ACME_2)];
      await waitFor('two acme requests inside their handlers', () => entered() === 2);
      // The third waits for a slot; the fourth finds the line full. (An injected request is
      // sent when awaited or then-ed: then() sends the third first.)
      const queued = get(app, '/v1/executions/R-1', ACME).then((response) => response);
      const refused = await get(app, '/v1/executions/R-1', ACME);
      expect(refused.statusCode).toBe(429);
      expect(refused.json().error.code).toBe('TOO_MANY_IN_FLIGHT');
      expect(refused.headers['retry-after']).toBe('1');
      expect(entered()).toBe(2);
      // Another tenant is not held up behind acme.
      expect((await get(app, '/v1/executions/R-1', GLOBEX)).statusCode).toBe(404);
      open();
      const answers = await Promise.all([...held, queued]);
      expect(answers.map((response) => response.statusCode)).toEqual([200, 200, 200]);
      // The slots were given back.
      expect((await get(app, '/v1/executions/R-1', ACME)).statusCode).toBe(200);
    } finally {
      open();
      await app.close();
    }
  });

  it('refuses a request that waited longer than the bound', async () => {
    const { runtime: slow, open, entered } = gatedReads();
    const app = await appWithTenants(slow, {
      defaults: { requestsPerMinute: 0, concurrency: 1, queue: 10 },
      maxWaitMs: 50,
      overrides: new Map(),
    });
    try {
      const held = get(app, '/v1/executions/R-1', ACME);
      await waitFor('one acme request inside its handler', () => entered() === 1);
      const refused = await get(app, '/v1/executions/R-1', ACME);
      expect(refused.statusCode).toBe(429);
      expect(refused.json().error.code).toBe('TOO_MANY_IN_FLIGHT');
      open();
      expect((await held).statusCode).toBe(200);
    } finally {
      open();
      await app.close();
    }
  });

  it('refuses a request over its rate at once, without waiting for a slot', async () => {
    const { runtime: slow, open, entered } = gatedReads();
    const app = await appWithTenants(slow, {
      defaults: { requestsPerMinute: 1, concurrency: 1, queue: 10 },
      maxWaitMs: 25_000,
      overrides: new Map(),
    });
    try {
      const held = get(app, '/v1/executions/R-1', ACME);
      await waitFor('one acme request inside its handler', () => entered() === 1);
      const refused = await get(app, '/v1/executions/R-1', ACME);
      expect(refused.statusCode).toBe(429);
      expect(refused.json().error.code).toBe('RATE_LIMITED');
      open();
      expect((await held).statusCode).toBe(200);
    } finally {
      open();
      await app.close();
    }
  });

  it('documents 429 on every /v1 route', async () => {
    const app = await buildApiApp({ runtime: rt, tokens: TOKENS, logger: silentLogger });
    try {
      const doc = (await get(app, '/openapi.json', ACME)).json();
      for (const [path, methods] of Object.entries(doc.paths as Record<string, object>)) {
        if (!path.startsWith('/v1/')) continue;
        for (const operation of Object.values(methods) as Array<{ responses: object }>) {
          expect(Object.keys(operation.responses), path).toContain('429');
        }
      }
    } finally {
      await app.close();
    }
  });
});
