import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConsole } from '../scripts/build-console.mjs';
import { silentLogger, startTestRuntime, type TestRuntime } from '../test/support/runtime.js';
import { buildApiApp } from './app.js';
import { CONSOLE_CSP, defaultConsoleDir } from './console.js';

type App = Awaited<ReturnType<typeof buildApiApp>>;

describe('the console under /console', () => {
  let rt: TestRuntime;
  let app: App;
  let unbuilt: App;
  let dir: string;
  let script: string;

  beforeAll(async () => {
    rt = await startTestRuntime();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flowpool-console-'));
    const built = await buildConsole(dir);
    script = Object.keys(built).find((file) => file.endsWith('.js'))!;
    const tokens = new Map([['acme-token-0001', 'acme']]);
    app = await buildApiApp({ runtime: rt, tokens, logger: silentLogger, consoleDir: dir });
    unbuilt = await buildApiApp({
      runtime: rt,
      tokens,
      logger: silentLogger,
      consoleDir: path.join(dir, 'missing'),
    });
  });
  afterAll(async () => {
    await app.close();
    await unbuilt.close();
    await rt.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('sends the page uncached, with a CSP that allows only this origin', async () => {
    const page = await app.inject({ method: 'GET', url: '/console/' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['cache-control']).toBe('no-cache');
    expect(page.headers['content-security-policy']).toBe(CONSOLE_CSP);
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    expect(page.body).toContain(`src="/console/${script}"`);
  });

  it('redirects /console to /console/', async () => {
    const answer = await app.inject({ method: 'GET', url: '/console' });
    expect(answer.statusCode).toBe(308);
    expect(answer.headers.location).toBe('/console/');
  });

  it('sends hashed assets cached for good, gzipped when the client accepts it', async () => {
    const plain = await app.inject({ method: 'GET', url: `/console/${script}` });
    expect(plain.statusCode).toBe(200);
    expect(plain.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(plain.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(plain.headers['content-encoding']).toBeUndefined();
    const zipped = await app.inject({
      method: 'GET',
      url: `/console/${script}`,
      headers: { 'accept-encoding': 'gzip, br' },
    });
    expect(zipped.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(zipped.rawPayload).toString()).toBe(plain.body);
  });

  it("answers a page of the console's own router with the page, a missing asset with 404", async () => {
    const deep = await app.inject({ method: 'GET', url: '/console/executions/T-1' });
    expect(deep.statusCode).toBe(200);
    expect(deep.headers['content-type']).toBe('text/html; charset=utf-8');
    const missing = await app.inject({ method: 'GET', url: '/console/assets/app-NOPE.js' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.code).toBe('NOT_FOUND');
  });

  it('needs no token for its files, while /v1 still does', async () => {
    expect((await app.inject({ method: 'GET', url: '/console/' })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/v1/dead-letters' })).statusCode).toBe(401);
  });

  it('says the console is not built when its files are missing', async () => {
    const answer = await unbuilt.inject({ method: 'GET', url: '/console/' });
    expect(answer.statusCode).toBe(404);
    expect(answer.json().error.code).toBe('CONSOLE_NOT_BUILT');
  });

  it('stays out of the OpenAPI document', async () => {
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
    expect(Object.keys(doc.paths).filter((route) => route.startsWith('/console'))).toEqual([]);
  });

  it("finds dist/console at the package's root", () => {
    expect(defaultConsoleDir(path.resolve('api'))).toBe(path.resolve('dist/console'));
  });
});
