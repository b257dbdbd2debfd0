import type { Redis } from 'ioredis';
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { WorkerConfig } from '../../core/config/config.js';
import { logText } from '../../core/error-record.js';
import {
  createDatabase,
  createRedis,
  endpointOf,
  Reachability,
} from '../../core/process/connections.js';
import {
  type HealthServer,
  type Readiness,
  startHealthServer,
} from '../../core/process/health-server.js';
import type { Shutdown } from '../../core/process/shutdown.js';
import { sleep, withTimeout } from '../../core/timing.js';
import type { WorkflowRegistry } from '../../workflow/registry.js';
import { WorkerMetrics } from '../observability/metrics.js';
import type { DeliveryOutcome } from '../runtime/delivery-handler.js';
import { createRuntime, DEFAULT_RUNTIME_SETTINGS, type Runtime } from '../runtime/runtime.js';
import type { StreamConsumer } from '../runtime/stream-consumer.js';

/** The tables `flowpool migrate` creates; the worker cannot run without them. */
const WORKFLOW_TABLES = [
  'workflow_executions',
  'workflow_events',
  'workflow_event_processing',
  'workflow_snapshots',
  'workflow_action_results',
] as const;

/** XREADGROUP BLOCK: short, so a reading loop notices shutdown within a second. */
const READ_BLOCK_MS = 1_000;
const PING_TIMEOUT_MS = 1_500;

export type WorkerPhase = 'starting' | 'running' | 'draining' | 'stopped';

export interface WorkerProcessOptions {
  config: WorkerConfig;
  registry: WorkflowRegistry;
  /** Carries workerId (the consumer name) on every line. */
  logger: Logger;
  /** Prometheus Node defaults (off in tests that build many process objects). */
  defaultMetrics?: boolean;
}

/**
 * One worker process: connections that survive outages, the stream
 * consumer, the outbox relay, and the health endpoints. Start it, then hand
 * its stop steps to the process's Shutdown.
 */
export class WorkerProcess {
  readonly metrics: WorkerMetrics;
  private readonly config: WorkerConfig;
  private readonly logger: Logger;
  private readonly knex: Knex;
  private readonly redis: Redis;
  private readonly runtime: Runtime;
  private readonly consumer: StreamConsumer;
  private readonly closeReaders: () => void;
  private readonly postgres: Reachability;
  private readonly redisHealth: Reachability;
  private readonly relayHealth: Reachability;
  private readonly schema: Reachability;
  private readonly stopping = new AbortController();
  private state: WorkerPhase = 'starting';
  private tablesPresent = false;
  private schemaMissing: string | undefined;
  private http: HealthServer | undefined;
  private bringingUp: Promise<void> | undefined;
  private relayLoop: Promise<void> | undefined;

  constructor({ config, registry, logger, defaultMetrics = true }: WorkerProcessOptions) {
    this.config = config;
    this.logger = logger;
    this.knex = createDatabase(config.databaseUrl, {
      // Sized on its own, not per slot: batches share connections (config.ts).
      poolMax: config.databasePoolSize,
      applicationName: `flowpool-worker ${config.consumerName}`.slice(0, 63),
      logger,
    });
    this.postgres = new Reachability(logger, `PostgreSQL at ${endpointOf(config.databaseUrl)}`);
    this.redisHealth = new Reachability(logger, `Redis at ${endpointOf(config.redisUrl)}`);
    this.relayHealth = new Reachability(logger, 'the outbox relay');
    this.schema = new Reachability(logger, `the database at ${endpointOf(config.databaseUrl)}`, {
      down: 'is not ready',
      up: 'has the workflow tables',
    });
    this.redis = createRedis(
      config.redisUrl,
      { maxRetriesPerRequest: 2, connectionName: config.consumerName },
      (error) => this.redisHealth.failed(error, 'reconnecting'),
    );
    this.redis.on('ready', () => this.redisHealth.succeeded());
    this.runtime = createRuntime({
      knex: this.knex,
      redis: this.redis,
      registry,
      logger,
      settings: {
        ...DEFAULT_RUNTIME_SETTINGS,
        stream: config.stream,
        group: config.consumerGroup,
        workerId: config.consumerName,
        lockTtlMs: config.lockTtlMs,
        maxDeliveries: config.maxDeliveries,
        snapshotEvery: config.snapshotEvery,
        actionTimeoutMs: config.settings.actionTimeoutMs,
        readBytes: config.settings.catchUpReadBytes,
        stateCacheBytes: config.settings.stateCacheBytes,
        deadLetterMaxLength: config.settings.deadLetterMaxLength,
        relay: {
          ...DEFAULT_RUNTIME_SETTINGS.relay,
          unpublishedAfterMs: config.relayUnpublishedAfterMs,
          republishAfterMs: config.relayRepublishAfterMs,
        },
      },
    });
    const { consumer, closeReaders } = this.runtime.createConsumer(
      {
        consumerName: config.consumerName,
        loops: config.workerCount,
        batchSize: config.batchSize,
        blockMs: READ_BLOCK_MS,
        concurrency: config.concurrency,
        idleTimeoutMs: config.idleTimeoutMs,
        stuckAfterMs: config.settings.stuckAfterMs,
      },
      {
        onOutcome: (outcome, durationMs) => {
          this.metrics.recordOutcome(outcome, durationMs);
          this.logOutcome(outcome, durationMs);
        },
        onError: (_error, where) => this.metrics.recordStreamError(where),
      },
      (loop) =>
        createRedis(config.redisUrl, {
          maxRetriesPerRequest: 1,
          connectionName: `${config.consumerName}-reader-${loop}`,
        }),
    );
    this.consumer = consumer;
    this.closeReaders = closeReaders;
    this.metrics = new WorkerMetrics(
      () => this.consumer.inFlight,
      defaultMetrics,
      () => this.consumer.stuckSlots(),
    );
  }

  get phase(): WorkerPhase {
    return this.state;
  }

  get port(): number | undefined {
    return this.http?.port;
  }

  /**
   * Opens the HTTP endpoints, then connects and starts consuming in the
   * background: an unreachable PostgreSQL or Redis is retried (and reported
   * by /readyz), never fatal.
   */
  async start(): Promise<void> {
    this.http = await startHealthServer({
      port: this.config.port,
      logger: this.logger,
      readiness: () => this.readiness(),
      metrics: () => this.metrics.render(),
    });
    this.logger.info(
      {
        port: this.http.port,
        stream: this.config.stream,
        group: this.config.consumerGroup,
        loops: this.config.workerCount,
        concurrency: this.config.concurrency,
        workflows: this.runtime.registry.names(),
      },
      'worker starting',
    );
    this.bringingUp = this.bringUp().catch((error) => {
      this.logger.fatal({ err: logText(error) }, 'worker could not start');
      throw error;
    });
  }

  /** Resolves once the consumer runs (or the process began stopping first). */
  async running(): Promise<void> {
    await this.bringingUp;
  }

  private async bringUp(): Promise<void> {
    const signal = this.stopping.signal;
    let attempt = 0;
    while (!signal.aborted) {
      const [database, redis] = await Promise.all([this.checkDatabase(), this.checkRedis()]);
      if (database && redis) {
        try {
          await this.consumer.start();
          break;
        } catch (error) {
          this.redisHealth.failed(error, 'retrying the consumer group');
        }
      }
      attempt += 1;
      await sleep(Math.min(200 * attempt, 2_000), signal);
    }
    if (signal.aborted) return;
    this.state = 'running';
    this.relayLoop = this.runRelay();
    this.logger.info(
      { consumer: this.config.consumerName, stream: this.config.stream },
      'worker running',
    );
  }

  /** PostgreSQL answers and the workflow tables exist. */
  private async checkDatabase(): Promise<boolean> {
    try {
      await withTimeout(this.knex.raw('select 1'), PING_TIMEOUT_MS * 2, 'PostgreSQL');
      this.postgres.succeeded();
    } catch (error) {
      this.postgres.failed(error);
      return false;
    }
    if (this.tablesPresent) return true;
    try {
      const missing: string[] = [];
      for (const table of WORKFLOW_TABLES)
        if (!(await this.knex.schema.hasTable(table))) missing.push(table);
      if (missing.length > 0) {
        this.schemaMissing = `workflow tables missing (${missing.join(', ')}): run \`flowpool migrate\``;
        this.schema.failed(new Error(this.schemaMissing), 'waiting for them');
        return false;
      }
      this.schema.succeeded();
      this.schemaMissing = undefined;
      this.tablesPresent = true;
      return true;
    } catch (error) {
      this.postgres.failed(error);
      return false;
    }
  }

  private async checkRedis(): Promise<boolean> {
    try {
      await withTimeout(this.redis.ping(), PING_TIMEOUT_MS, 'Redis');
      this.redisHealth.succeeded();
      return true;
    } catch (error) {
      this.redisHealth.failed(error);
      return false;
    }
  }

  async readiness(): Promise<Readiness> {
    if (this.state === 'draining' || this.state === 'stopped') {
      return { ready: false, reason: this.state, checks: {} };
    }
    const probe = async (work: Promise<unknown>, what: string) => {
      try {
        await withTimeout(work, PING_TIMEOUT_MS, what);
        return 'ok';
      } catch (error) {
        return logText(error) || 'no answer';
      }
    };
    const [postgres, redis] = await Promise.all([
      probe(this.knex.raw('select 1'), 'PostgreSQL'),
      probe(this.redis.ping(), 'Redis'),
    ]);
    const stuck = this.consumer.stuckSlots();
    const checks = {
      postgres: postgres === 'ok' && this.schemaMissing ? this.schemaMissing : postgres,
      redis,
      consumer: this.state,
      slots: stuck === 0 ? 'ok' : `${stuck} of ${this.consumer.concurrency} stuck`,
    };
    let reason: string | undefined;
    if (postgres !== 'ok') reason = `PostgreSQL unreachable: ${postgres}`;
    else if (this.schemaMissing) reason = this.schemaMissing;
    else if (redis !== 'ok') reason = `Redis unreachable: ${redis}`;
    else if (this.state !== 'running') reason = 'starting';
    else reason = this.stuckReason();
    return reason ? { ready: false, reason, checks } : { ready: true, checks };
  }

  /** Every slot held by a delivery past its deadline: this worker takes no work. */
  private stuckReason(): string | undefined {
    const stuck = this.consumer.stuckSlots();
    const slots = this.consumer.concurrency;
    if (stuck < slots) return undefined;
    return `all ${slots} slots stuck past their deadlines (no progress for ${this.config.settings.stuckAfterMs} ms beyond their action timeouts)`;
  }

  private async runRelay(): Promise<void> {
    const signal = this.stopping.signal;
    while (!signal.aborted) {
      try {
        const resent = await this.runtime.relay.runOnce();
        this.metrics.recordRepublished(resent);
        if (resent > 0) this.logger.info({ resent }, 'relay resent notices');
        this.relayHealth.succeeded();
      } catch (error) {
        this.relayHealth.failed(error);
      }
      await sleep(this.config.relayIntervalMs, signal);
    }
  }

  private logOutcome(outcome: DeliveryOutcome, durationMs: number): void {
    const ms = Math.round(durationMs);
    switch (outcome.kind) {
      case 'done': {
        const { tenant, executionId } = outcome.notice;
        for (const event of outcome.result.outcomes) {
          if (event.kind === 'applied') {
            this.logger.debug(
              {
                tenant,
                executionId,
                eventId: event.eventId,
                seq: event.seq,
                fromState: event.fromState,
                toState: event.toState,
              },
              'event applied',
            );
          } else {
            this.logger.info(
              {
                tenant,
                executionId,
                eventId: event.eventId,
                seq: event.seq,
                state: event.fromState,
                reason: event.reason,
              },
              'event rejected',
            );
          }
        }
        this.logger.debug(
          {
            ...outcome.notice,
            applied: outcome.result.applied,
            rejected: outcome.result.rejected,
            actionsRun: outcome.result.actionsRun,
            blocked: outcome.result.blocked,
            ms,
          },
          'delivery done',
        );
        return;
      }
      case 'busy':
        this.logger.debug({ ...outcome.notice, ms }, 'execution busy elsewhere; retrying shortly');
        return;
      case 'retry':
        this.logger.warn(
          {
            ...outcome.notice,
            err: outcome.error,
            deliveries: outcome.deliveries,
            counted: outcome.counted,
            ms,
          },
          'delivery failed; retrying with backoff',
        );
        return;
      case 'dead':
        // The delivery handler has already logged the dead letter with its notice.
        return;
    }
  }

  /**
   * Hands this process's stop steps to the Shutdown. They run in reverse:
   * relay, then the consumer's drain, then connections, then HTTP.
   */
  registerWith(shutdown: Shutdown): void {
    shutdown.register('http server', () => this.http?.close());
    shutdown.register('connections', () => this.closeConnections());
    shutdown.register('consumer', () => this.drain());
    shutdown.register('outbox relay', () => this.stopRelay());
  }

  private async stopRelay(): Promise<void> {
    if (this.state === 'running' || this.state === 'starting') this.state = 'draining';
    this.stopping.abort();
    await this.bringingUp?.catch(() => {});
    await this.relayLoop;
  }

  /** Stops reading, finishes in-flight work until the deadline, hands back the rest. */
  async drain(): Promise<void> {
    this.state = 'draining';
    this.stopping.abort();
    await this.bringingUp?.catch(() => {});
    const startedAt = Date.now();
    const holding = this.consumer.inFlight;
    const { finished, handedBack } = await this.consumer.drain(this.config.drainTimeoutMs);
    // drain() already tried to leave the group; asking again says whether it did.
    const leftGroup = await withTimeout(
      this.runtime.transport.leaveGroup(this.config.consumerName),
      PING_TIMEOUT_MS,
      'Redis',
    ).catch(() => false);
    const details = { holding, handedBack, leftGroup, ms: Date.now() - startedAt };
    if (finished) this.logger.info(details, 'drained: in-flight work finished');
    else
      this.logger.warn(
        { ...details, deadlineMs: this.config.drainTimeoutMs },
        'drained: deadline passed; unfinished work handed back',
      );
  }

  private async closeConnections(): Promise<void> {
    this.closeReaders();
    await withTimeout(this.redis.quit(), 1_000, 'Redis quit').catch(() => this.redis.disconnect());
    await withTimeout(this.knex.destroy(), 2_000, 'closing the PostgreSQL pool').catch((error) =>
      this.logger.warn({ err: logText(error) }, 'PostgreSQL pool not closed cleanly'),
    );
    this.state = 'stopped';
  }
}
