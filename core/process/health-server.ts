import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { logText } from '../error-record.js';

export interface Readiness {
  ready: boolean;
  /** Why the process is not ready (absent when ready). */
  reason?: string;
  /** Per dependency: "ok" or what went wrong. */
  checks: Record<string, string>;
}

export interface HealthServerOptions {
  port: number;
  host?: string;
  logger: Logger;
  readiness(): Promise<Readiness>;
  metrics(): Promise<{ contentType: string; body: string }>;
}

export interface HealthServer {
  readonly port: number;
  close(): Promise<void>;
}

function send(
  response: http.ServerResponse,
  status: number,
  body: string,
  contentType = 'application/json; charset=utf-8',
): void {
  response.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store' });
  response.end(body);
}

/**
 * The worker's HTTP endpoints: /healthz (the process is alive and its event
 * loop answers), /readyz (dependencies reachable and not draining: 200, else
 * 503 with the reason), /metrics (Prometheus text).
 */
export async function startHealthServer(options: HealthServerOptions): Promise<HealthServer> {
  const server = http.createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      send(response, 405, JSON.stringify({ error: 'method not allowed' }));
      return;
    }
    void (async () => {
      try {
        if (path === '/healthz') {
          send(response, 200, JSON.stringify({ status: 'alive' }));
        } else if (path === '/readyz') {
          const readiness = await options.readiness();
          send(
            response,
            readiness.ready ? 200 : 503,
            JSON.stringify({
              status: readiness.ready ? 'ready' : 'not ready',
              ...(readiness.reason ? { reason: readiness.reason } : {}),
              checks: readiness.checks,
            }),
          );
        } else if (path === '/metrics') {
          const { contentType, body } = await options.metrics();
          send(response, 200, body, contentType);
        } else {
          send(response, 404, JSON.stringify({ error: `no route ${path}` }));
        }
      } catch (error) {
        options.logger.error({ err: logText(error), path }, 'health endpoint failed');
        if (!response.headersSent) send(response, 500, JSON.stringify({ error: 'internal error' }));
      }
    })();
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // No host: every address of the pod (IPv6 and IPv4 where available).
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
