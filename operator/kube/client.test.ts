import { getEventListeners } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isNotFound, KubeApiError, KubeClient } from './client.js';
import type { WatchEvent } from './types.js';

let server: http.Server;
let client: KubeClient;
let config: KubeConfig;
const seen: Array<{ method?: string; url?: string; auth?: string; type?: string; body: string }> =
  [];

beforeAll(async () => {
  server = http.createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => {
      body += chunk.toString();
    });
    request.on('end', () => {
      seen.push({
        method: request.method,
        url: request.url,
        auth: request.headers.authorization,
        type: request.headers['content-type'],
        body,
      });
      const url = new URL(request.url ?? '/', 'http://x');
      if (url.pathname === '/missing') {
        response.writeHead(404, { 'content-type': 'application/json' });
        response.end(
          JSON.stringify({
            kind: 'Status',
            code: 404,
            reason: 'NotFound',
            message: 'x "y" not found',
          }),
        );
        return;
      }
      if (url.pathname === '/echo') {
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(body || '{"ok":true}');
        return;
      }
      if (url.pathname === '/watch-gone') {
        response.writeHead(200, { 'content-type': 'application/json' });
        response.write(
          `${JSON.stringify({ type: 'ADDED', object: { metadata: { name: 'a' } } })}\n`,
        );
        response.end(
          `${JSON.stringify({ type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version: 1 (5)' } })}\n`,
        );
        return;
      }
      if (url.pathname === '/watch-split') {
        response.writeHead(200, { 'content-type': 'application/json' });
        const line = `${JSON.stringify({ type: 'MODIFIED', object: { metadata: { name: 'b' } } })}\n`;
        response.write(line.slice(0, 10));
        setTimeout(() => {
          response.write(line.slice(10));
          response.end(
            JSON.stringify({ type: 'BOOKMARK', object: { metadata: { resourceVersion: '9' } } }),
          );
        }, 20);
        return;
      }
      if (url.pathname === '/watch-forbidden') {
        response.writeHead(403, { 'content-type': 'application/json' });
        response.end(
          JSON.stringify({ kind: 'Status', code: 403, reason: 'Forbidden', message: 'no' }),
        );
        return;
      }
      if (url.pathname === '/hang') return; // never answers
      if (url.pathname === '/watch-hang') {
        response.writeHead(200, { 'content-type': 'application/json' });
        response.write('');
        return;
      }
      response.writeHead(500);
      response.end('boom');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  config = new KubeConfig();
  config.loadFromOptions({
    clusters: [
      {
        name: 'c',
        server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        skipTLSVerify: true,
      },
    ],
    users: [{ name: 'u', token: 'secret-token' }],
    contexts: [{ name: 'ctx', cluster: 'c', user: 'u' }],
    currentContext: 'ctx',
  });
  client = new KubeClient(config);
});

afterAll(async () => {
  client.close();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('KubeClient', () => {
  it('sends JSON with the kubeconfig credentials and the given content type', async () => {
    const answer = await client.request<{ a: number }>('PATCH', '/echo', {
      query: { fieldManager: 'flowpool-operator', force: true, skipped: undefined },
      body: { a: 1 },
      contentType: 'application/apply-patch+yaml',
    });
    expect(answer).toEqual({ a: 1 });
    const last = seen.at(-1)!;
    expect(last).toMatchObject({
      method: 'PATCH',
      url: '/echo?fieldManager=flowpool-operator&force=true',
      auth: 'Bearer secret-token',
      type: 'application/apply-patch+yaml',
      body: '{"a":1}',
    });
  });

  it('turns a Status answer into a KubeApiError with its code, reason and message', async () => {
    const error = await client.request('GET', '/missing').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KubeApiError);
    expect(error).toMatchObject({ status: 404, reason: 'NotFound' });
    expect((error as Error).message).toContain('x "y" not found');
    expect(isNotFound(error)).toBe(true);
    const other = await client.request('GET', '/other').catch((e: unknown) => e);
    expect(other).toMatchObject({ status: 500, message: expect.stringContaining('boom') });
  });

  it('reports a watch ERROR event 410 as gone, after the events before it', async () => {
    const events: WatchEvent<unknown>[] = [];
    const error = await client
      .watch(
        '/watch-gone',
        { resourceVersion: '1' },
        (event) => events.push(event),
        new AbortController().signal,
      )
      .catch((e: unknown) => e);
    expect(events.map((event) => event.type)).toEqual(['ADDED']);
    expect(error).toBeInstanceOf(KubeApiError);
    expect((error as KubeApiError).gone).toBe(true);
    expect(seen.at(-1)?.url).toBe('/watch-gone?resourceVersion=1&watch=1');
  });

  it('reassembles events split across chunks and resolves when the server ends the watch', async () => {
    const events: WatchEvent<{ metadata: { name?: string; resourceVersion?: string } }>[] = [];
    await client.watch(
      '/watch-split',
      {},
      (event) => events.push(event as never),
      new AbortController().signal,
    );
    expect(events.map((event) => event.type)).toEqual(['MODIFIED', 'BOOKMARK']);
    expect(events[0]?.object.metadata.name).toBe('b');
  });

  it('rejects a watch the server refuses, and ends one quietly when aborted', async () => {
    const refused = await client
      .watch('/watch-forbidden', {}, () => {}, new AbortController().signal)
      .catch((e: unknown) => e);
    expect(refused).toMatchObject({ status: 403, reason: 'Forbidden' });
    const abort = new AbortController();
    const watching = client.watch('/watch-hang', {}, () => {}, abort.signal);
    setTimeout(() => abort.abort(), 30);
    await expect(watching).resolves.toBeUndefined();
  });

  it('cuts off calls in flight and refuses new ones once its scope aborts', async () => {
    const scope = new AbortController();
    const scoped = new KubeClient(config, undefined, scope.signal);
    try {
      for (let i = 0; i < 5; i++) await scoped.request('GET', '/echo');
      // Finished calls leave no listener on the long-lived scope.
      expect(getEventListeners(scope.signal, 'abort')).toHaveLength(0);
      const before = seen.length;
      const hanging = scoped.request('GET', '/hang').catch((e: unknown) => e);
      await expect.poll(() => seen.length, { timeout: 5_000, interval: 10 }).toBe(before + 1);
      scope.abort();
      expect(await hanging).toMatchObject({ reason: 'RequestFailed' });
      const refused = await scoped
        .request('POST', '/echo', { body: { replicas: 3 } })
        .catch((e: unknown) => e);
      expect(refused).toMatchObject({ reason: 'RequestFailed' });
      expect((refused as Error).message).toContain('aborted before it was sent');
      // The write never reached the server.
      expect(seen.slice(before + 1)).toEqual([]);
    } finally {
      scoped.close();
    }
  });
});
