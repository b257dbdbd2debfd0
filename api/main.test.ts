import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadApiConfig } from '../core/config/config.js';
import { freePort, waitFor } from '../local/process.js';
import { migrateLatest } from '../migrations/index.js';
import {
  type TestDatabase,
  type TestRedis,
  testDatabase,
  testRedis,
} from '../test/support/isolation.js';
import { silentLogger } from '../test/support/runtime.js';
import { bundledWorkflows } from '../workflow/bundled/index.js';
import { WorkflowRegistry } from '../workflow/registry.js';
import { runApi, startApi } from './main.js';

const TOKEN = 'main-test-token';

describe('the api process', () => {
  let db: TestDatabase;
  let redis: TestRedis;
  const env = (port: number) => ({
    DATABASE_URL: db.url,
    REDIS_URL: redis.url,
    WORKFLOW_REDIS_STREAM_PREFIX: `${redis.prefix}workflow:events:`,
    FLOWPOOL_API_TOKENS: JSON.stringify({ [TOKEN]: 'acme' }),
    PORT: String(port),
    LOG_LEVEL: 'silent',
  });

  beforeAll(async () => {
    db = await testDatabase();
    await migrateLatest(db.knex);
    redis = await testRedis();
  });
  afterAll(async () => {
    await redis.close();
    await db.close();
  });

  it('listens only where HOST says (local mode keeps it on loopback)', async () => {
    const api = await startApi({
      config: loadApiConfig({ ...env(0), HOST: '127.0.0.1' }),
      registry: new WorkflowRegistry(bundledWorkflows),
      logger: silentLogger,
    });
    try {
      expect(api.app.server.address()).toMatchObject({ address: '127.0.0.1' });
    } finally {
      await api.closeServer();
      await api.closeConnections();
    }
  });

  it('startApi serves the API over a real socket and closes cleanly', async () => {
    const api = await startApi({
      config: loadApiConfig(env(0)),
      registry: new WorkflowRegistry(bundledWorkflows),
      logger: silentLogger,
    });
    const port = (api.app.server.address() as { port: number }).port;
    const base = `http://127.0.0.1:${port}`;
    const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
    try {
      const started = await fetch(`${base}/v1/executions`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ workflow: 'ticket-lifecycle', executionId: 'M-1' }),
      });
      expect(started.status).toBe(201);
      const enqueued = await fetch(`${base}/v1/executions/M-1/events`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ event: 'comment', payload: { text: 'over a socket' } }),
      });
      expect(enqueued.status).toBe(202);
      // The notice went to the configured stream (prefix + pool).
      expect(await redis.redis.xlen(`${redis.prefix}workflow:events:global`)).toBe(1);
      expect((await fetch(`${base}/readyz`)).status).toBe(200);
      // The console is served on the same port (built or not, its routes are there).
      const consolePage = await fetch(`${base}/console`, { redirect: 'manual' });
      expect(consolePage.status).toBe(308);
      expect(consolePage.headers.get('location')).toBe('/console/');
      const metrics = await (await fetch(`${base}/metrics`)).text();
      expect(metrics).toContain('process_cpu_user_seconds_total');
      expect(metrics).toContain('flowpool_events_enqueued_total{result="new"} 1');
    } finally {
      await api.closeServer();
      await api.closeConnections();
    }
    await expect(fetch(`${base}/healthz`)).rejects.toThrow();
  });

  it('runApi exits 2 with a configuration error', async () => {
    const codes: number[] = [];
    await runApi({ ...env(0), DATABASE_URL: 'mysql://nope' }, (code) => codes.push(code));
    expect(codes).toEqual([2]);
  });

  it('runApi listens on PORT and exits 0 after a SIGTERM, finishing what it was doing', async () => {
    const port = await freePort();
    let exited: (code: number) => void = () => {};
    const exitCode = new Promise<number>((resolve) => {
      exited = resolve;
    });
    await runApi(env(port), (code) => exited(code));
    const base = `http://127.0.0.1:${port}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const unauthorized = await fetch(`${base}/v1/dead-letters`);
    expect(unauthorized.status).toBe(401);
    process.emit('SIGTERM', 'SIGTERM');
    expect(await exitCode).toBe(0);
    await waitFor('the port to close', async () => {
      try {
        await fetch(`${base}/healthz`);
        return false;
      } catch {
        return true;
      }
    });
  });
});
