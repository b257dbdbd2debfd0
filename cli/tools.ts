import type { Redis } from 'ioredis';
import type { Knex } from 'knex';
import pino from 'pino';
import type { CommonConfig } from '../core/config/config.js';
import { NotFoundError } from '../core/errors.js';
import { createLogger } from '../core/logger.js';
import { createDatabase, createRedis } from '../core/process/connections.js';
import { withTimeout } from '../core/timing.js';
import { DeadLetters } from '../engine/dead-letters.js';
import { type VerifyReport, verifyExecution } from '../engine/verify.js';
import { migrateDown, migrateLatest } from '../migrations/index.js';
import type { EventRecord, ExecutionRecord } from '../store/event-store.js';
import { PostgresEventStore } from '../store/postgres-event-store.js';
import { RedisStreamTransport } from '../stream/redis-stream-transport.js';
import {
  createRuntime,
  DEFAULT_RUNTIME_SETTINGS,
  type Runtime,
} from '../worker/runtime/runtime.js';
import { loadWorkflows } from '../workflow/loader.js';
import type { WorkflowRegistry } from '../workflow/registry.js';

/** Where a command writes: stdout for results, stderr for notes and errors. */
export interface Output {
  out(text: string): void;
  err(text: string): void;
}

/**
 * Connections for one command: a small PostgreSQL pool, and Redis only when
 * the command sends notices. Redis gives up after a few reconnections, so a
 * command never hangs on an unreachable server (the relay resends notices).
 */
export class ToolContext {
  readonly knex: Knex;
  readonly store: PostgresEventStore;
  private redisConnection: Redis | undefined;
  private registryLoaded: WorkflowRegistry | undefined;

  constructor(readonly config: CommonConfig) {
    this.knex = createDatabase(config.databaseUrl, { poolMax: 2, applicationName: 'flowpool-cli' });
    this.store = new PostgresEventStore(this.knex);
  }

  async registry(): Promise<WorkflowRegistry> {
    this.registryLoaded ??= await loadWorkflows(this.config.workflowsPath);
    return this.registryLoaded;
  }

  private redis(): Redis {
    this.redisConnection ??= createRedis(this.config.redisUrl, {
      maxRetriesPerRequest: 1,
      maxReconnects: 3,
      connectionName: 'flowpool-cli',
    });
    return this.redisConnection;
  }

  async runtime(): Promise<Runtime> {
    // Warnings (a notice not sent) go to stderr as JSON, like every other log line.
    const logger = createLogger('warn', { component: 'cli' }, pino.destination(2));
    return createRuntime({
      knex: this.knex,
      redis: this.redis(),
      registry: await this.registry(),
      logger,
      settings: {
        ...DEFAULT_RUNTIME_SETTINGS,
        stream: this.config.stream,
        group: this.config.consumerGroup,
        workerId: 'flowpool-cli',
        lockTtlMs: this.config.lockTtlMs,
        maxDeliveries: this.config.maxDeliveries,
      },
    });
  }

  deadLetters(): DeadLetters {
    return new DeadLetters(
      this.store,
      new RedisStreamTransport(this.redis(), this.config.stream, this.config.consumerGroup),
    );
  }

  async close(): Promise<void> {
    if (this.redisConnection) {
      const redis = this.redisConnection;
      await withTimeout(redis.quit(), 1_000, 'Redis quit').catch(() => redis.disconnect());
    }
    await withTimeout(this.knex.destroy(), 2_000, 'closing PostgreSQL').catch(() => {});
  }
}

/** Parses a JSON option, naming the option when it is not JSON. */
export function jsonOption(name: string, raw: string | undefined): unknown {
  if (raw === undefined) return undefined;
  try {
    return JSON.parse(raw);
  } catch {
    throw new UsageError(`${name} must be JSON, got ${raw.slice(0, 80)}`);
  }
}

/** Bad arguments: exit code 2, like a bad configuration. */
export class UsageError extends Error {}

export async function migrate(
  config: CommonConfig,
  down: boolean,
  output: Output,
): Promise<number> {
  const knex = createDatabase(config.databaseUrl, {
    poolMax: 1,
    applicationName: 'flowpool-migrate',
  });
  try {
    const names = down ? await migrateDown(knex) : await migrateLatest(knex);
    if (names.length === 0) output.out(down ? 'nothing to roll back' : 'already up to date');
    for (const name of names) output.out(`${down ? 'rolled back' : 'applied'} ${name}`);
    return 0;
  } finally {
    await withTimeout(knex.destroy(), 2_000, 'closing PostgreSQL').catch(() => {});
  }
}

/** Every event of an execution, page by page. */
export async function fullHistory(
  context: ToolContext,
  tenant: string,
  executionId: string,
): Promise<EventRecord[]> {
  const events: EventRecord[] = [];
  for (;;) {
    const page = await context.store.history(tenant, executionId, {
      afterSeq: events.at(-1)?.seq ?? 0,
      limit: 1000,
    });
    events.push(...page);
    if (page.length < 1000) return events;
  }
}

export async function requireExecution(
  context: ToolContext,
  tenant: string,
  executionId: string,
): Promise<ExecutionRecord> {
  const execution = await context.store.getExecution(tenant, executionId);
  if (!execution) throw new NotFoundError(`execution ${executionId} of tenant ${tenant}`);
  return execution;
}

/** Left-aligned columns separated by two spaces. */
export function table(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) => cell.padEnd(widths[column] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

function compact(value: unknown, max = 60): string {
  const text = JSON.stringify(value) ?? '';
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

export function describeExecution(execution: ExecutionRecord, events: EventRecord[]): string {
  const pending = events.filter((event) => event.status === 'pending').length;
  const lines = [
    `execution  ${execution.executionId}  (${execution.workflowName}@${execution.workflowVersion}, tenant ${execution.tenant})`,
    `state      ${execution.state}  status ${execution.status}  applied seq ${execution.appliedSeq} of ${execution.nextSeq - 1}${pending ? `  (${pending} pending)` : ''}`,
    `data       ${JSON.stringify(execution.data)}`,
    `updated    ${execution.updatedAt.toISOString()}`,
    '',
  ];
  if (events.length === 0) return [...lines, 'no events'].join('\n');
  const rows = events.map((event) => [
    String(event.seq),
    event.name,
    event.status,
    event.fromState ?? '',
    event.toState ?? '',
    event.status === 'rejected' ? (event.reason ?? '') : compact(event.payload, 40),
    event.createdAt.toISOString(),
    event.eventId,
  ]);
  return [
    ...lines,
    table(
      ['seq', 'event', 'status', 'from', 'to', 'payload / reason', 'created', 'event id'],
      rows,
    ),
  ].join('\n');
}

export function describeVerify(report: VerifyReport): string {
  const head = `${report.executionId}: ${report.ok ? 'ok' : 'PROBLEMS'} (${report.eventsChecked} events, ${report.snapshotsChecked} snapshots checked)`;
  return [head, ...report.problems.map((problem) => `  - ${problem}`)].join('\n');
}

export async function verify(
  context: ToolContext,
  tenant: string,
  executionId: string,
): Promise<VerifyReport> {
  return verifyExecution(context.store, await context.registry(), tenant, executionId);
}

export function describeDeadLetters(
  dead: ReadonlyArray<EventRecord & { error: string | null }>,
): string {
  if (dead.length === 0) return 'no dead letters';
  return table(
    ['event id', 'execution', 'seq', 'event', 'status', 'error'],
    dead.map((event) => [
      event.eventId,
      event.executionId,
      String(event.seq),
      event.name,
      event.status,
      (event.error ?? '').slice(0, 120),
    ]),
  );
}
