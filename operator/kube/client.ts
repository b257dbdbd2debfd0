/**
 * JSON over HTTPS to the API server, with the credentials and TLS settings
 * of a KubeConfig. Objects go out and come back exactly as JSON (the
 * generated typed clients rename some keys and turn dates into Date), and
 * watches are read line by line so a 410 Gone can be told apart.
 */
import http from 'node:http';
import https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import type { WatchEvent } from './types.js';

/** An error answer from the API server (a meta/v1 Status), or a failed request. */
export class KubeApiError extends Error {
  constructor(
    /** HTTP status, or the Status code of a watch ERROR event; 0 when no answer came. */
    readonly status: number,
    /** The Status reason, e.g. NotFound, Conflict, Expired, Gone. */
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = 'KubeApiError';
  }

  /** The resource version asked for is too old: list again. */
  get gone(): boolean {
    return this.status === 410 || this.reason === 'Expired' || this.reason === 'Gone';
  }
}

export function isNotFound(error: unknown): boolean {
  return error instanceof KubeApiError && error.status === 404;
}

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  timeoutMs?: number;
  signal?: AbortSignal;
}

interface StatusBody {
  kind?: string;
  code?: number;
  reason?: string;
  message?: string;
}

function statusError(status: number, text: string, what: string): KubeApiError {
  let body: StatusBody = {};
  try {
    body = JSON.parse(text) as StatusBody;
  } catch {
    // not a Status
  }
  const reason = body.reason ?? http.STATUS_CODES[status] ?? 'Unknown';
  const message = body.message ?? (text.trim().slice(0, 300) || reason);
  return new KubeApiError(status, reason, `${what}: ${status} ${reason}: ${message}`);
}

export class KubeClient {
  private readonly server: URL;
  private agent: http.Agent | undefined;

  /**
   * `scope`, when given, ends every request and watch of this client when it
   * aborts: the operator gives each leadership term its own client, so a
   * replica that lost the lease cannot finish a write it had started.
   */
  constructor(
    private readonly config: KubeConfig,
    private readonly defaultTimeoutMs = 30_000,
    private readonly scope?: AbortSignal,
  ) {
    const cluster = config.getCurrentCluster();
    if (!cluster) throw new Error('the kubeconfig has no current cluster');
    this.server = new URL(cluster.server);
  }

  /** Headers (credentials may rotate, so asked for every time) and a reused keep-alive agent. */
  private async connection(): Promise<{ headers: http.OutgoingHttpHeaders; agent: http.Agent }> {
    const options: https.RequestOptions = { headers: {} };
    await this.config.applyToHTTPSOptions(options);
    const headers: http.OutgoingHttpHeaders = {
      ...((options.headers ?? {}) as http.OutgoingHttpHeaders),
    };
    if (options.auth) {
      headers.authorization = `Basic ${Buffer.from(options.auth).toString('base64')}`;
    }
    if (this.agent === undefined) {
      this.agent =
        this.server.protocol === 'https:'
          ? new https.Agent({
              keepAlive: true,
              ca: options.ca,
              cert: options.cert,
              key: options.key,
              ...(options.rejectUnauthorized === undefined
                ? {}
                : { rejectUnauthorized: options.rejectUnauthorized }),
              ...(options.servername ? { servername: options.servername } : {}),
            })
          : new http.Agent({ keepAlive: true });
    }
    return { headers, agent: this.agent };
  }

  private url(path: string, query: RequestOptions['query']): URL {
    const base = this.server.pathname.replace(/\/$/, '');
    const url = new URL(base + path, this.server);
    for (const [key, value] of Object.entries(query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    return url;
  }

  private async open(
    method: string,
    path: string,
    options: RequestOptions,
  ): Promise<{ request: http.ClientRequest; response: http.IncomingMessage }> {
    const { headers, agent } = await this.connection();
    const url = this.url(path, options.query);
    const payload =
      options.body === undefined
        ? undefined
        : typeof options.body === 'string'
          ? options.body
          : JSON.stringify(options.body);
    const allHeaders: http.OutgoingHttpHeaders = { ...headers, accept: 'application/json' };
    if (payload !== undefined) {
      allHeaders['content-type'] = options.contentType ?? 'application/json';
      allHeaders['content-length'] = Buffer.byteLength(payload);
    }
    const transport = url.protocol === 'https:' ? https : http;
    const signal = this.signalFor(options.signal);
    if (signal?.aborted) {
      throw new KubeApiError(0, 'RequestFailed', `${method} ${path}: aborted before it was sent`);
    }
    return new Promise((resolve, reject) => {
      const request = transport.request(url, { method, headers: allHeaders, agent }, (response) =>
        resolve({ request, response }),
      );
      request.on('error', (error) =>
        reject(new KubeApiError(0, 'RequestFailed', `${method} ${path}: ${error.message}`)),
      );
      const timeoutMs = options.timeoutMs ?? this.defaultTimeoutMs;
      if (timeoutMs > 0) {
        request.setTimeout(timeoutMs, () =>
          request.destroy(new Error(`no answer within ${timeoutMs} ms`)),
        );
      }
      if (signal) {
        const abort = () => request.destroy(new Error('aborted'));
        signal.addEventListener('abort', abort, { once: true });
        // The scope outlives its requests: leave no listener behind on it.
        request.on('close', () => signal.removeEventListener('abort', abort));
      }
      request.end(payload);
    });
  }

  private signalFor(own: AbortSignal | undefined): AbortSignal | undefined {
    if (own === undefined) return this.scope;
    return this.scope === undefined ? own : AbortSignal.any([own, this.scope]);
  }

  /** One request; resolves with the parsed JSON answer, rejects with KubeApiError. */
  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const { response } = await this.open(method, path, options);
    const text = await new Promise<string>((resolve, reject) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        body += chunk;
      });
      response.on('end', () => resolve(body));
      response.on('error', (error) =>
        reject(new KubeApiError(0, 'RequestFailed', `${method} ${path}: ${error.message}`)),
      );
    });
    const status = response.statusCode ?? 0;
    if (status >= 400 || status === 0) throw statusError(status, text, `${method} ${path}`);
    return (text === '' ? undefined : JSON.parse(text)) as T;
  }

  /**
   * A watch: `onEvent` gets every ADDED, MODIFIED, DELETED and BOOKMARK
   * event in order. Resolves when the server closes the stream (its
   * timeoutSeconds passed) or `signal` aborts; rejects on an HTTP error or
   * an ERROR event (410 Gone among them) with a KubeApiError.
   */
  async watch<T>(
    path: string,
    query: Record<string, string | number | boolean | undefined>,
    onEvent: (event: WatchEvent<T>) => void,
    signal: AbortSignal,
  ): Promise<void> {
    if (signal.aborted) return;
    let opened: Awaited<ReturnType<KubeClient['open']>>;
    try {
      opened = await this.open('GET', path, {
        query: { ...query, watch: 1 },
        timeoutMs: 0,
        signal,
      });
    } catch (error) {
      if (signal.aborted) return;
      throw error;
    }
    const { response } = opened;
    const status = response.statusCode ?? 0;
    if (status !== 200) {
      const text = await new Promise<string>((resolve) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          body += chunk;
        });
        response.on('end', () => resolve(body));
        response.on('error', () => resolve(body));
      });
      throw statusError(status, text, `watch ${path}`);
    }
    await new Promise<void>((resolve, reject) => {
      let buffered = '';
      let failed = false;
      const fail = (error: Error) => {
        if (failed) return;
        failed = true;
        response.destroy();
        reject(error);
      };
      const line = (text: string) => {
        if (text.trim() === '') return;
        let event: { type?: string; object?: unknown };
        try {
          event = JSON.parse(text) as typeof event;
        } catch {
          fail(new KubeApiError(0, 'BadWatchEvent', `watch ${path}: unreadable event`));
          return;
        }
        if (event.type === 'ERROR') {
          const body = (event.object ?? {}) as StatusBody;
          const code = body.code ?? 500;
          fail(
            new KubeApiError(
              code,
              body.reason ?? 'Unknown',
              `watch ${path}: ${code} ${body.reason ?? ''}: ${body.message ?? ''}`,
            ),
          );
          return;
        }
        try {
          onEvent(event as WatchEvent<T>);
        } catch (error) {
          fail(error instanceof Error ? error : new Error(String(error)));
        }
      };
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        buffered += chunk;
        let newline = buffered.indexOf('\n');
        while (newline >= 0 && !failed) {
          line(buffered.slice(0, newline));
          buffered = buffered.slice(newline + 1);
          newline = buffered.indexOf('\n');
        }
      });
      response.on('end', () => {
        if (!failed) line(buffered);
        if (!failed) resolve();
      });
      response.on('error', (error) => {
        if (signal.aborted) resolve();
        else fail(new KubeApiError(0, 'WatchFailed', `watch ${path}: ${error.message}`));
      });
      response.on('close', () => {
        if (!failed) resolve();
      });
    });
  }

  /** Closes kept-alive connections. */
  close(): void {
    this.agent?.destroy();
  }
}
