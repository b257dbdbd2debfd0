import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRuntime, type TestRuntime } from '../test/support/runtime.js';
import { verifyExecution } from './verify.js';

describe('verify', () => {
  let rt: TestRuntime;
  beforeAll(async () => {
    rt = await startTestRuntime({ settings: { snapshotEvery: 2 } });
  });
  afterAll(() => rt.close());

  async function busyTicket(): Promise<string> {
    const { executionId } = await rt.service.startExecution({
      tenant: 'v',
      workflow: 'ticket-lifecycle',
    });
    const events: Array<[string, unknown]> = [
      ['assign', { assignee: 'a' }],
      ['comment', { text: '1' }],
      ['close', {}],
      ['resolve', {}],
      ['comment', { text: '2' }],
    ];
    for (const [event, payload] of events)
      await rt.service.enqueueEvent({ tenant: 'v', executionId, event, payload });
    await rt.processor.process({ tenant: 'v', executionId });
    return executionId;
  }

  it('agrees with an execution processed normally', async () => {
    const executionId = await busyTicket();
    const report = await verifyExecution(rt.store, rt.registry, 'v', executionId);
    expect(report).toMatchObject({ ok: true, eventsChecked: 5, problems: [] });
    expect(report.snapshotsChecked).toBeGreaterThan(1);
  });

  it('finds a tampered stored state and a tampered snapshot', async () => {
    const executionId = await busyTicket();
    await rt.db
      .knex('workflow_executions')
      .where({ execution_id: executionId })
      .update({ current_state: 'closed' });
    await rt.db
      .knex('workflow_snapshots')
      .where({ execution_id: executionId, seq: 5 })
      .update({ data: '{"commentCount":99}' });
    const report = await verifyExecution(rt.store, rt.registry, 'v', executionId);
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual([
      'snapshot at seq 5 differs from the log',
      "stored state closed differs from the log's resolved (or its data does)",
    ]);
  });
});
