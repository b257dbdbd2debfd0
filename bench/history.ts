import { DEFAULT_RUNTIME_SETTINGS } from '../worker/runtime/runtime.js';
import { type BenchEnv, describeMachine } from './lib/env.js';
import { benchRuntime } from './lib/runtime.js';
import { INITIAL_DATA, truncateFlowpool } from './lib/seed.js';
import { fmt, fmtSummary, rounds, summarize, table, writeResult } from './lib/stats.js';

const SNAPSHOT_EVERY = DEFAULT_RUNTIME_SETTINGS.snapshotEvery;

async function seedHistory(
  env: BenchEnv,
  tenant: string,
  executionId: string,
  prior: number,
  snapshots: boolean,
) {
  await env.knex.raw(
    `insert into workflow_events (tenant, event_id, execution_id, seq, event_name, payload, from_state, to_state, status, applied_at, published_at)
     select ?, gen_random_uuid(), ?, s, 'comment', jsonb_build_object('text', 'c' || s), 'new', 'new', 'applied', now(), now()
       from generate_series(1, ?::int) as s`,
    [tenant, executionId, prior],
  );
  await env.knex.raw(
    `insert into workflow_event_processing (tenant, event_id, status, attempt_count)
     select tenant, event_id, 'completed', 1 from workflow_events where tenant = ? and execution_id = ?`,
    [tenant, executionId],
  );
  const data = (c: number) => JSON.stringify({ ...INITIAL_DATA, commentCount: c });
  if (snapshots) {
    await env.knex.raw(
      `insert into workflow_snapshots (tenant, execution_id, seq, current_state, data)
       select ?, ?, s, 'new', jsonb_set(?::jsonb, '{commentCount}', to_jsonb(s))
         from generate_series(?::int, ?::int, ?::int) as s`,
      [tenant, executionId, data(0), SNAPSHOT_EVERY, prior, SNAPSHOT_EVERY],
    );
  }
  await env
    .knex('workflow_executions')
    .where({ tenant, execution_id: executionId })
    .update({ applied_seq: prior, next_seq: prior + 1, data: data(prior) });
  await env.knex.raw('analyze workflow_events');
}

export async function historyBench(env: BenchEnv) {
  const tenant = 'bench';
  const runtime = benchRuntime(env, `bench:history:${process.pid}`, {
    group: 'g',
    workerId: 'bench',
  });
  await truncateFlowpool(env.knex);
  const results: Array<{
    prior: number;
    snapshots: boolean;
    round: number;
    ms: number;
    eventsReplayed: number;
    rowsRead: number;
  }> = [];
  const n = rounds();
  let id = 0;
  // Round 0 warms up connections and code paths and is not reported.
  for (let round = 0; round <= n; round += 1) {
    for (const prior of [10, 1_000, 100_000]) {
      for (const snapshots of [true, false]) {
        const { executionId } = await runtime.service.startExecution({
          tenant,
          workflow: 'ticket-lifecycle',
          executionId: `h${++id}`,
        });
        await seedHistory(env, tenant, executionId, prior, snapshots);
        await runtime.service.enqueueEvent({
          tenant,
          executionId,
          event: 'comment',
          payload: { text: 'one more' },
        });
        const started = performance.now();
        const result = await runtime.processor.process({ tenant, executionId });
        const ms = performance.now() - started;
        if (result.applied !== 1)
          throw new Error(`expected one applied event, got ${JSON.stringify(result)}`);
        // execution row + the waiting event + the snapshot + the events after it
        const rowsRead = 1 + 1 + 1 + result.eventsReplayed;
        results.push({
          prior,
          snapshots,
          round,
          ms,
          eventsReplayed: result.eventsReplayed,
          rowsRead,
        });
        console.error(
          `round ${round} prior ${prior} snapshots ${snapshots}: ${ms.toFixed(1)} ms, ${result.eventsReplayed} replayed`,
        );
      }
    }
  }
  const rows = [];
  for (const prior of [10, 1_000, 100_000])
    for (const snapshots of [true, false]) {
      const mine = results.filter((r) => r.prior === prior && r.snapshots === snapshots);
      rows.push([
        fmt(prior),
        snapshots ? `every ${SNAPSHOT_EVERY}` : 'initial only',
        fmtSummary(summarize(mine.map((r) => r.ms)), 1),
        fmt(mine[0]!.eventsReplayed),
        fmt(mine[0]!.rowsRead),
      ]);
    }
  const text = table(
    [
      'prior events',
      'snapshots',
      'apply one event, ms median (min–max)',
      'events replayed',
      'rows read',
    ],
    rows,
  );
  console.log(`\n## History length (${n} rounds)\n\n${text}\n`);
  const file = writeResult('history', {
    machine: await describeMachine(env),
    results,
    table: text,
  });
  console.log(`results: ${file}`);
  await truncateFlowpool(env.knex);
  return results;
}
