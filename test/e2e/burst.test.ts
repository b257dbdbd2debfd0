/**
 * The kind script's load and checks, run here against a local api and worker
 * (the compiled CLI, as the image runs it) on throwaway PostgreSQL and Redis:
 * burst.mjs send and check, and exactly-once.sql, exactly as kind.sh uses
 * them; and proof that both checks catch an event applied twice.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { childEnv, FlowpoolProcess, flowpoolEnv, runCli } from '../process/support.js';
import {
  type TestDatabase,
  type TestRedis,
  testDatabase,
  testRedis,
} from '../support/isolation.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const BURST = path.join(HERE, 'burst.mjs');
const SQL = fs.readFileSync(path.join(HERE, 'exactly-once.sql'), 'utf8');
const TOKEN = 'burst-test-token';
const TENANT = 'e2e';
const RUN = 'local';
const EXECUTIONS = 6;
const EVENTS = 12;

let db: TestDatabase;
let redis: TestRedis;
let api: FlowpoolProcess | undefined;
let worker: FlowpoolProcess | undefined;

interface BurstResult {
  code: number | null;
  report: Record<string, unknown>;
  stderr: string;
}

/** `node burst.mjs <command>` with the environment kind.sh's Jobs give it. */
async function burst(command: 'send' | 'check', timeoutSeconds = 120): Promise<BurstResult> {
  const child = spawn(process.execPath, [BURST, command], {
    env: childEnv({
      FLOWPOOL_API_URL: `http://127.0.0.1:${api!.port}`,
      FLOWPOOL_API_TOKEN: TOKEN,
      BURST_RUN: RUN,
      BURST_EXECUTIONS: String(EXECUTIONS),
      BURST_EVENTS: String(EVENTS),
      BURST_CONCURRENCY: '8',
      BURST_TIMEOUT_SECONDS: String(timeoutSeconds),
    }),
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
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  const last = stdout.trim().split('\n').at(-1) ?? '{}';
  return { code, report: JSON.parse(last) as Record<string, unknown>, stderr };
}

/** psql: the PostgreSQL client the server packages install, or the one on PATH. */
function findPsql(): string {
  const candidates = [
    ...fs
      .readdirSync('/usr/lib/postgresql', { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => path.join('/usr/lib/postgresql', entry.name, 'bin/psql')),
    ...(process.env.PATH ?? '').split(path.delimiter).map((dir) => path.join(dir, 'psql')),
  ];
  const found = candidates.find((file) => fs.existsSync(file));
  if (!found) throw new Error('psql not found: install the PostgreSQL client (postgresql-client)');
  return found;
}

const FIGURES = [
  'executions',
  'events',
  'applied',
  'not_applied',
  'completed',
  'comments',
  'behind',
  'ok',
] as const;

/** exactly-once.sql through psql, with the flags and variables kind.sh gives it. */
async function exactlyOnce(expected: number): Promise<Record<(typeof FIGURES)[number], string>> {
  const child = spawn(
    findPsql(),
    [
      db.url,
      '-X',
      '-q',
      '-At',
      '-F',
      ' ',
      '-v',
      'ON_ERROR_STOP=1',
      '-v',
      `run=${RUN}`,
      '-v',
      `tenant=${TENANT}`,
      '-v',
      `expected=${expected}`,
    ],
    { env: childEnv({}), stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  child.stdin.end(SQL);
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  expect(code, stderr).toBe(0);
  // kind.sh reads the last field: t when every check holds.
  const fields = stdout.trim().split(' ');
  expect(fields).toHaveLength(FIGURES.length);
  return Object.fromEntries(FIGURES.map((name, index) => [name, fields[index]!])) as Record<
    (typeof FIGURES)[number],
    string
  >;
}

beforeAll(async () => {
  [db, redis] = await Promise.all([testDatabase(), testRedis()]);
  const base = { databaseUrl: db.url, redisUrl: redis.url, prefix: redis.prefix };
  const migrated = await runCli(['migrate'], flowpoolEnv(base));
  expect(migrated.code, migrated.stderr).toBe(0);
  api = await FlowpoolProcess.start(
    'api',
    ['api'],
    flowpoolEnv(base, { FLOWPOOL_API_TOKENS: JSON.stringify({ [TOKEN]: TENANT }) }),
  );
  await api.waitReady();
  worker = await FlowpoolProcess.start('worker', ['worker'], flowpoolEnv(base));
  await worker.waitReady();
});

afterAll(async () => {
  await Promise.all([api?.stop(), worker?.stop()]);
  await Promise.all([db?.close(), redis?.close()]);
});

describe('the kind script burst, locally', () => {
  it('sends the burst, and every event is applied exactly once', async () => {
    const sent = await burst('send');
    expect(sent.code, JSON.stringify(sent.report) + sent.stderr).toBe(0);
    expect(sent.report).toMatchObject({
      ok: true,
      executions: EXECUTIONS,
      events: EXECUTIONS * EVENTS,
    });

    const checked = await burst('check');
    expect(checked.code, JSON.stringify(checked.report)).toBe(0);
    expect(checked.report).toMatchObject({ ok: true, eventsApplied: EXECUTIONS * EVENTS });

    const figures = await exactlyOnce(EXECUTIONS * EVENTS);
    expect(figures).toMatchObject({
      executions: String(EXECUTIONS),
      events: String(EXECUTIONS * EVENTS),
      applied: String(EXECUTIONS * EVENTS),
      not_applied: '0',
      completed: String(EXECUTIONS * EVENTS),
      comments: String(EXECUTIONS * EVENTS),
      behind: '0',
      ok: 't',
    });
  });

  it('sends nothing new when a Job retries the burst', async () => {
    const again = await burst('send');
    expect(again.code).toBe(0);
    expect((await exactlyOnce(EXECUTIONS * EVENTS)).ok).toBe('t');
    expect((await burst('check')).code).toBe(0);
  });

  it('catches an event applied twice, in the api check and in the database check', async () => {
    // What a double apply would leave: one comment counted twice.
    await db.knex.raw(
      `update workflow_executions
         set data = jsonb_set(data, '{commentCount}', to_jsonb((data->>'commentCount')::int + 1))
       where tenant = ? and execution_id = ?`,
      [TENANT, `${RUN}-0000`],
    );
    const checked = await burst('check', 5);
    expect(checked.code).toBe(1);
    expect(String(checked.report.error)).toContain(
      `${RUN}-0000: commentCount ${EVENTS + 1} > ${EVENTS} sent`,
    );
    const figures = await exactlyOnce(EXECUTIONS * EVENTS);
    expect(figures.ok).toBe('f');
    expect(figures.comments).toBe(String(EXECUTIONS * EVENTS + 1));
  });

  it('refuses bad usage with exit code 2', async () => {
    const child = spawn(process.execPath, [BURST, 'explode'], {
      env: childEnv({}),
      stdio: 'ignore',
    });
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    expect(code).toBe(2);
  });
});
