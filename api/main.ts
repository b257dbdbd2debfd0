import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { type ApiConfig, loadApiConfig } from '../core/config/config.js';
import type { Env } from '../core/config/parse.js';
import { logText } from '../core/error-record.js';
import {
  createDatabase,
  createRedis,
  endpointOf,
  Reachability,
} from '../core/process/connections.js';
import { exitProcess, runProgram } from '../core/process/startup.js';
import { withTimeout } from '../core/timing.js';
import { createEngine, DEFAULT_ENGINE_SETTINGS } from '../engine/engine.js';
import type { WorkflowRegistry } from '../workflow/registry.js';
import { loadConfigAndWorkflows } from '../workflow/startup.js';
import { buildApiApp } from './app.js';
import { defaultConsoleDir } from './console.js';
import { dependencyReadiness } from './readiness.js';

export interface StartedApi {
  app: FastifyInstance;
  /** e.g. http://0.0.0.0:8080 (HOST and PORT) */
  address: string;
  /** Stops taking requests, lets in-flight ones finish, then closes PostgreSQL and Redis. */
  closeServer(): Promise<void>;
  closeConnections(): Promise<void>;
}

export interface StartApiOptions {
  config: ApiConfig;
  registry: WorkflowRegistry;
  logger: Logger;
  /** True while the process drains: /readyz then answers 503. */
  stopping?: () => boolean;
}

/**
 * Connects to PostgreSQL and Redis and listens on config.port. Neither
 * server has to be up: requests needing one answer 503 and /readyz says
 * which is missing until it comes back.
 */
export async function startApi({
  config,
  registry,
  logger,
  stopping,
}: StartApiOptions): Promise<StartedApi> {
  const postgresName = `PostgreSQL at ${endpointOf(config.databaseUrl)}`;
  const redisName = `Redis at ${endpointOf(config.redisUrl)}`;
  const redisReachability = new Reachability(logger, redisName);
  const knex = createDatabase(config.databaseUrl, {
    poolMax: 10,
    applicationName: 'flowpool-api',
  });
  // One retry per command: a request waits for Redis briefly, then answers 503.
  const redis = createRedis(
    config.redisUrl,
    { maxRetriesPerRequest: 1, connectionName: 'flowpool-api' },
    (error) => redisReachability.failed(error, 'reconnecting'),
  );
  redis.on('ready', () => redisReachability.succeeded());
  const engine = createEngine({
    knex,
    redis,
    registry,
    settings: { ...DEFAULT_ENGINE_SETTINGS, stream: config.stream, group: config.consumerGroup },
    logger,
  });
  const metricsRegistry = new Registry();
  collectDefaultMetrics({ register: metricsRegistry });
  const app = await buildApiApp({
    runtime: engine,
    tokens: config.tokens,
    settings: config.settings,
    logger,
    metricsRegistry,
    consoleDir: defaultConsoleDir(),
    readiness: dependencyReadiness({
      postgres: engine.store,
      redis: engine.transport,
      stopping,
    }),
  });
  if (config.tokens.size === 0) {
    logger.warn('FLOWPOOL_API_TOKENS is empty: every /v1 request will be refused with 401');
  }
  let address: string;
  try {
    address = await app.listen({ port: config.port, host: config.host });
  } catch (error) {
    await app.close().catch(() => undefined);
    await knex.destroy().catch(() => undefined);
    redis.disconnect();
    throw error;
  }
  logger.info({ address, workflows: registry.names() }, 'api listening');
  // Say at once when a dependency is missing, rather than at the first request.
  await engine.store.ping().then(
    () => logger.info(`${postgresName} reachable`),
    (error) =>
      logger.warn(
        { dependency: postgresName, err: logText(error) },
        `${postgresName} unreachable (${logText(error)}); answering 503 until it is back`,
      ),
  );

  let serverClosed: Promise<void> | undefined;
  let connectionsClosed: Promise<void> | undefined;
  return {
    app,
    address,
    closeServer() {
      serverClosed ??= withTimeout(app.close(), 20_000, 'closing the HTTP server').then(
        () => undefined,
      );
      return serverClosed;
    },
    closeConnections() {
      connectionsClosed ??= (async () => {
        await knex.destroy();
        await withTimeout(redis.quit(), 2_000, 'Redis QUIT').catch(() => redis.disconnect());
      })();
      return connectionsClosed;
    },
  };
}

/**
 * `flowpool api`: parses the environment once, loads the workflows, serves
 * the HTTP API on PORT and leaves the process to the Shutdown: on SIGTERM or
 * SIGINT it stops accepting, finishes in-flight requests, closes PostgreSQL
 * and Redis and exits 0. A bad configuration exits 2 with one line naming
 * the variable.
 */
export async function runApi(env: Env, exit = exitProcess): Promise<void> {
  await runProgram(
    {
      component: 'api',
      load: () => loadConfigAndWorkflows(() => loadApiConfig(env)),
      settings: ({ config }) => ({ logLevel: config.logLevel, port: config.port }),
      async start({ config, registry }, logger, shutdown) {
        const api = await startApi({
          config,
          registry,
          logger,
          stopping: () => shutdown.lifecycle === 'stopping' || shutdown.lifecycle === 'stopped',
        });
        // Callbacks run last-registered first: the server closes before its connections.
        shutdown.register('connections', () => api.closeConnections());
        shutdown.register('http', () => api.closeServer());
      },
    },
    exit,
  );
}
