import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import type { Knex } from 'knex';
import pino from 'pino';
import { createDatabase, createRedis } from '../../core/process/connections.js';
import { freePort, waitFor } from '../../local/process.js';
import {
  createRuntime,
  DEFAULT_RUNTIME_SETTINGS,
  type Runtime,
} from '../../worker/runtime/runtime.js';
import type { WorkflowRegistry } from '../../workflow/registry.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The compiled CLI: the same file the image's ENTRYPOINT runs. */
export const CLI = path.join(ROOT, 'dist/cli/main.js');

export const SLOW_WORKFLOW = path.join(ROOT, 'test/process/fixtures/slow-workflow.mjs');

/** Process tests run the compiled program; say so plainly when it was not built. */
export function requireBuild(): void {
  if (!fs.existsSync(CLI)) {
    throw new Error(
      `${path.relative(ROOT, CLI)} is missing: run \`npm run build\` first (test/run does it through scripts/bootstrap.sh)`,
    );
  }
}

/** One line a child wrote: parsed JSON when it was a log line, else the raw text. */
export interface LogLine {
  raw: string;
  json: Record<string, unknown> | undefined;
  stream: 'stdout' | 'stderr';
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * A child environment: PATH (for node itself) plus exactly what the test
 * sets, so nothing leaks in from the environment the tests run in.
 */
export function childEnv(vars: Record<string, string | undefined>): Record<string, string> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
  for (const [key, value] of Object.entries(vars)) if (value !== undefined) env[key] = value;
  return env;
}

/**
 * A `flowpool` child process: its output kept line by line (the last
 * `keepLines`), its exit awaited, its HTTP endpoints at hand.
 */
export class FlowpoolProcess {
  readonly lines: LogLine[] = [];
  readonly exited: Promise<Exit>;
  private exitInfo: Exit | undefined;
  private readonly child: ChildProcess;

  private constructor(
    readonly name: string,
    readonly args: readonly string[],
    readonly port: number | undefined,
    env: Record<string, string>,
    private readonly keepLines: number,
  ) {
    requireBuild();
    this.child = spawn(process.execPath, [CLI, ...args], {
      env,
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.collect('stdout');
    this.collect('stderr');
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        resolve(this.exitInfo);
      });
    });
  }

  /** Spawns `node dist/cli/main.js <args>`; PORT is a free port unless given. */
  static async start(
    name: string,
    args: readonly string[],
    env: Record<string, string>,
    { keepLines = 20_000 } = {},
  ): Promise<FlowpoolProcess> {
    const port = env.PORT ? Number(env.PORT) : await freePort();
    return new FlowpoolProcess(name, args, port, { ...env, PORT: String(port) }, keepLines);
  }

  private collect(stream: 'stdout' | 'stderr'): void {
    let pending = '';
    this.child[stream]?.on('data', (chunk: Buffer) => {
      pending += chunk.toString();
      const parts = pending.split('\n');
      pending = parts.pop() ?? '';
      for (const raw of parts) {
        if (raw.trim() === '') continue;
        let json: Record<string, unknown> | undefined;
        try {
          const parsed: unknown = JSON.parse(raw);
          if (typeof parsed === 'object' && parsed !== null)
            json = parsed as Record<string, unknown>;
        } catch {
          json = undefined;
        }
        this.lines.push({ raw, json, stream });
        if (this.lines.length > this.keepLines)
          this.lines.splice(0, this.lines.length - this.keepLines);
      }
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.exitInfo === undefined;
  }

  get exit(): Exit | undefined {
    return this.exitInfo;
  }

  /** The tail of the output, for assertion messages. */
  tail(count = 30): string {
    return this.lines
      .slice(-count)
      .map((line) => line.raw)
      .join('\n');
  }

  signal(signal: NodeJS.Signals): void {
    if (this.running) this.child.kill(signal);
  }

  /** Log lines whose `msg` contains `text`. */
  logged(text: string): Array<Record<string, unknown>> {
    return this.lines
      .map((line) => line.json)
      .filter((json): json is Record<string, unknown> => String(json?.msg ?? '').includes(text));
  }

  async waitForLog(text: string, timeoutMs = 30_000): Promise<Record<string, unknown>> {
    await waitFor(
      `${this.name} to log "${text}"\n${this.tail()}`,
      () => this.logged(text).length > 0,
      { timeoutMs },
    );
    return this.logged(text)[0]!;
  }

  async get(route: string): Promise<{ status: number; text: string }> {
    const response = await fetch(`http://127.0.0.1:${this.port}${route}`, {
      signal: AbortSignal.timeout(5_000),
    });
    return { status: response.status, text: await response.text() };
  }

  async readyz(): Promise<{ status: number; body: Record<string, unknown> }> {
    const { status, text } = await this.get('/readyz');
    return { status, body: JSON.parse(text) as Record<string, unknown> };
  }

  async waitReady(timeoutMs = 30_000): Promise<void> {
    await waitFor(
      `${this.name} /readyz to answer 200\n${this.tail()}`,
      async () => this.running && (await this.readyz()).status === 200,
      { timeoutMs },
    );
  }

  async metrics(): Promise<string> {
    return (await this.get('/metrics')).text;
  }

  /** SIGTERM (or the given signal) and wait for the exit; SIGKILL after `timeoutMs`. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 30_000): Promise<Exit> {
    if (!this.running) return this.exitInfo!;
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const exit = await this.exited;
    clearTimeout(timer);
    return exit;
  }
}

/** Runs a one-shot CLI command to completion. */
export async function runCli(
  args: readonly string[],
  env: Record<string, string>,
  timeoutMs = 60_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  requireBuild();
  const child = spawn(process.execPath, [CLI, ...args], {
    env,
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  clearTimeout(timer);
  return { code, stdout, stderr };
}

export interface WorkerEnvBase {
  databaseUrl: string;
  redisUrl: string;
  /** Key prefix of this test (from testRedis), so streams of parallel tests never meet. */
  prefix?: string;
}

/** The environment of a worker (or a CLI command) on this test's database and stream. */
export function flowpoolEnv(
  base: WorkerEnvBase,
  overrides: Record<string, string | undefined> = {},
): Record<string, string> {
  return childEnv({
    DATABASE_URL: base.databaseUrl,
    REDIS_URL: base.redisUrl,
    WORKFLOW_REDIS_STREAM_PREFIX: `${base.prefix ?? ''}workflow:events:`,
    LOG_LEVEL: 'info',
    ...overrides,
  });
}

export interface OpenRuntime {
  runtime: Runtime;
  knex: Knex;
  redis: Redis;
  close(): Promise<void>;
}

/**
 * A runtime in the test process on the same database and stream as the
 * workers under test, for enqueueing and reading back. Its connections ride
 * out outages like a worker's do (Redis reconnects, commands fail fast).
 */
export async function openRuntime(options: {
  databaseUrl: string;
  redisUrl: string;
  stream: string;
  registry: WorkflowRegistry;
}): Promise<OpenRuntime> {
  const knex = createDatabase(options.databaseUrl, { poolMax: 20, applicationName: 'test' });
  const redis = createRedis(options.redisUrl, { maxRetriesPerRequest: 1, connectionName: 'test' });
  const runtime = createRuntime({
    knex,
    redis,
    registry: options.registry,
    logger: pino({ level: 'silent' }),
    settings: {
      ...DEFAULT_RUNTIME_SETTINGS,
      stream: options.stream,
      group: 'workflow-workers',
      workerId: 'test',
    },
  });
  return {
    runtime,
    knex,
    redis,
    async close() {
      redis.disconnect();
      await knex.destroy();
    },
  };
}

/** Counts workflow_events rows by status. */
export async function eventStatusCounts(knex: Knex): Promise<Record<string, number>> {
  const rows = (await knex('workflow_events')
    .select('status')
    .count({ count: '*' })
    .groupBy('status')) as Array<{ status: string; count: string | number }>;
  return Object.fromEntries(rows.map((row) => [row.status, Number(row.count)]));
}
