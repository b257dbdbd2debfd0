import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../local/process.js';
import {
  type TestDatabase,
  type TestRedis,
  testDatabase,
  testRedis,
} from '../support/isolation.js';
import {
  eventStatusCounts,
  FlowpoolProcess,
  flowpoolEnv,
  requireBuild,
  runCli,
  SLOW_WORKFLOW,
} from './support.js';

/** The `flowpool` tools against a real database, stream and worker. */
describe('the flowpool command', () => {
  let db: TestDatabase;
  let redisHandle: TestRedis;
  let env: Record<string, string>;
  let worker: FlowpoolProcess | undefined;
  let tmp: string;

  beforeAll(async () => {
    requireBuild();
    db = await testDatabase();
    redisHandle = await testRedis();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'flowpool-cli-'));
    env = flowpoolEnv(
      { databaseUrl: db.url, redisUrl: redisHandle.url, prefix: redisHandle.prefix },
      {
        FLOWPOOL_WORKFLOWS: SLOW_WORKFLOW,
        WORKFLOW_MAX_DELIVERIES: '2',
        WORKFLOW_LOCK_TTL_MS: '1000',
        WORKFLOW_REDIS_IDLE_TIMEOUT_MS: '2000',
      },
    );
  });

  afterAll(async () => {
    await worker?.stop('SIGKILL');
    await redisHandle?.close();
    await db?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  async function flowpool(...args: string[]) {
    return runCli(args, env);
  }

  it('prints help for the program and every command', async () => {
    const main = await flowpool('--help');
    expect(main.code).toBe(0);
    for (const command of [
      'migrate',
      'worker',
      'api',
      'operator',
      'submit',
      'submit-event',
      'inspect',
      'verify',
      'dlq',
    ]) {
      expect(main.stdout).toContain(command);
    }
    for (const command of [['submit'], ['inspect'], ['dlq', 'list'], ['dlq', 'retry']]) {
      const help = await flowpool(...command, '--help');
      expect(help.code).toBe(0);
      expect(help.stdout).toContain(`Usage: flowpool ${command.join(' ')}`);
    }
    const unknown = await flowpool('frobnicate');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown command 'frobnicate'");
  });

  it('migrates, submits, inspects, verifies, and lists and retries dead letters', async () => {
    expect((await flowpool('migrate')).stdout).toContain('applied 001_workflow_tables');
    expect((await flowpool('migrate')).stdout).toContain('already up to date');

    worker = await FlowpoolProcess.start('worker', ['worker'], { ...env, POD_NAME: 'cli-worker' });
    await worker.waitReady();

    const submitted = await flowpool('submit', 'slow-job', '--tenant', 'acme', '--id', 'J-1');
    expect(submitted.code, submitted.stderr).toBe(0);
    expect(JSON.parse(submitted.stdout)).toMatchObject({
      executionId: 'J-1',
      workflow: 'slow-job',
      state: 'open',
      data: { worked: 0 },
    });
    const taken = await flowpool('submit', 'slow-job', '--tenant', 'acme', '--id', 'J-1');
    expect(taken.code).toBe(1);
    expect(taken.stderr).toContain('EXECUTION_EXISTS');

    const first = await flowpool(
      'submit-event',
      'J-1',
      'work',
      '--tenant',
      'acme',
      '--payload',
      '{"ms":1}',
      '--key',
      'k-1',
    );
    expect(first.code, first.stderr).toBe(0);
    const firstEvent = JSON.parse(first.stdout) as { eventId: string; seq: number };
    expect(firstEvent).toMatchObject({ seq: 1, duplicate: false });
    const again = await flowpool(
      'submit-event',
      'J-1',
      'work',
      '--tenant',
      'acme',
      '--payload',
      '{"ms":1}',
      '--key',
      'k-1',
    );
    expect(JSON.parse(again.stdout)).toMatchObject({
      eventId: firstEvent.eventId,
      duplicate: true,
    });
    await flowpool('submit-event', 'J-1', 'work', '--tenant', 'acme', '--payload', '{"ms":1}');
    const badJson = await flowpool(
      'submit-event',
      'J-1',
      'work',
      '--tenant',
      'acme',
      '--payload',
      '{',
    );
    expect(badJson.code).toBe(2);
    expect(badJson.stderr).toContain('--payload must be JSON');
    const noTenant = await flowpool('inspect', 'J-1');
    expect(noTenant.code).toBe(2);
    expect(noTenant.stderr).toContain('--tenant');

    await waitFor(
      'both events to apply',
      async () => (await eventStatusCounts(db.knex)).applied === 2,
    );
    const inspected = await flowpool('inspect', 'J-1', '--tenant', 'acme');
    expect(inspected.code).toBe(0);
    expect(inspected.stdout).toContain('state      open  status active  applied seq 2 of 2');
    expect(inspected.stdout).toMatch(/^1\s+work\s+applied\s+open\s+open\s+\{"ms":1\}/m);
    expect(inspected.stdout).toMatch(/^2\s+work\s+applied/m);
    const asJson = JSON.parse(
      (await flowpool('inspect', 'J-1', '--tenant', 'acme', '--json')).stdout,
    );
    expect(asJson.execution).toMatchObject({ executionId: 'J-1', appliedSeq: 2 });
    expect(asJson.events).toHaveLength(2);
    // Another tenant sees nothing.
    const otherTenant = await flowpool('inspect', 'J-1', '--tenant', 'other');
    expect(otherTenant.code).toBe(1);
    expect(otherTenant.stderr).toContain('not found');

    const verified = await flowpool('verify', 'J-1', '--tenant', 'acme');
    expect(verified.code).toBe(0);
    expect(verified.stdout).toContain('J-1: ok (2 events');
    // A cache that no longer matches the log is a problem: exit 1.
    await db
      .knex('workflow_executions')
      .where({ execution_id: 'J-1' })
      .update({ data: '{"worked":7}' });
    const broken = await flowpool('verify', 'J-1', '--tenant', 'acme');
    expect(broken.code).toBe(1);
    expect(broken.stdout).toContain('PROBLEMS');

    // An action that keeps failing ends as a dead letter; once cured, a retry runs it.
    await flowpool('submit', 'slow-job', '--tenant', 'acme', '--id', 'J-2');
    const marker = path.join(tmp, 'marker');
    const check = await flowpool(
      'submit-event',
      'J-2',
      'check',
      '--tenant',
      'acme',
      '--payload',
      JSON.stringify({ file: marker }),
    );
    const checkEvent = JSON.parse(check.stdout) as { eventId: string };
    await waitFor(
      'the check event to die',
      async () => {
        const listed = await flowpool('dlq', 'list', '--tenant', 'acme', '--json');
        return (JSON.parse(listed.stdout) as unknown[]).length === 1;
      },
      { timeoutMs: 30_000 },
    );
    const listed = await flowpool('dlq', 'list', '--tenant', 'acme');
    expect(listed.stdout).toContain(checkEvent.eventId);
    expect(listed.stdout).toContain('does not exist');
    fs.writeFileSync(marker, 'here');
    const retried = await flowpool('dlq', 'retry', checkEvent.eventId, '--tenant', 'acme');
    expect(retried.code, retried.stderr).toBe(0);
    expect(JSON.parse(retried.stdout)).toMatchObject({
      eventId: checkEvent.eventId,
      executionId: 'J-2',
    });
    await waitFor('the retried action to succeed', async () => {
      const rows = await db.knex('workflow_action_results').where({
        event_id: checkEvent.eventId,
        status: 'succeeded',
      });
      return rows.length === 1;
    });
    expect((await flowpool('dlq', 'list', '--tenant', 'acme')).stdout).toContain('no dead letters');
    const notDead = await flowpool('dlq', 'retry', checkEvent.eventId, '--tenant', 'acme');
    expect(notDead.code).toBe(1);
    expect(notDead.stderr).toContain('NOT_DEAD');

    expect(await worker.stop()).toEqual({ code: 0, signal: null });
    const down = await flowpool('migrate', '--down');
    expect(down.stdout).toContain('rolled back 001_workflow_tables');
    expect(await db.knex.schema.hasTable('workflow_events')).toBe(false);
  });
});
