import {
  up as createConsoleIndexes,
  down as dropConsoleIndexes,
} from '../migrations/002_console_indexes.js';
import { type ExecutionFilter, ExecutionQueries } from '../store/execution-queries.js';
import { type BenchEnv, describeMachine } from './lib/env.js';
import { truncateFlowpool } from './lib/seed.js';
import { fmt, fmtSummary, rounds, summarize, table, writeResult } from './lib/stats.js';

/**
 * The console's reads on a large tenant: a page of the list (first, and
 * deep in by cursor), its filters, the counts, and the applied chart, with
 * the indexes of migration 002 and without them. Another tenant's rows sit
 * in the same tables, as in a shared deployment.
 */

const BIG = Number(process.env.BENCH_CONSOLE_EXECUTIONS ?? 200_000);

async function seed(env: BenchEnv) {
  await truncateFlowpool(env.knex);
  for (const [tenant, count] of [
    ['big', BIG],
    ['other', BIG / 2],
  ] as const) {
    // Creation times spread over 30 days; one in 1,000 blocked, one in 500 with a failing event.
    await env.knex.raw(
      `insert into workflow_executions (tenant, execution_id, workflow_name, workflow_version, current_state, status, created_at, updated_at, next_seq, applied_seq)
       select ?, 'x' || lpad(s::text, 7, '0'), case when s % 3 = 0 then 'onboarding' else 'ticket-lifecycle' end, 1,
              (array['new','in_progress','resolved','closed'])[1 + s % 4],
              case when s % 1000 = 0 then 'blocked' when s % 4 = 3 then 'completed' else 'active' end,
              now() - make_interval(secs => s * (2592000.0 / ?)), now(), 2, 1
         from generate_series(1, ?::int) s`,
      [tenant, count, count],
    );
    // One event each, applied within the last 10 minutes.
    await env.knex.raw(
      `insert into workflow_events (tenant, event_id, execution_id, seq, event_name, status, from_state, to_state, applied_at, published_at)
       select ?, gen_random_uuid(), 'x' || lpad(s::text, 7, '0'), 1, 'assign', 'applied', 'new', 'in_progress',
              now() - make_interval(secs => s % 600), now()
         from generate_series(1, ?::int) s`,
      [tenant, count],
    );
    await env.knex.raw(
      `insert into workflow_event_processing (tenant, event_id, status, attempt_count)
       select tenant, event_id, case when right(execution_id, 3)::int % 500 = 7 then 'failed' else 'completed' end, 1
         from workflow_events where tenant = ?`,
      [tenant],
    );
  }
  // As autovacuum leaves a settled table: statistics and the visibility map current.
  await env.knex.raw('vacuum analyze');
}

interface Case {
  name: string;
  run: (q: ExecutionQueries) => Promise<unknown>;
}

function cases(deepCursor: { createdAt: string; executionId: string }): Case[] {
  const list = (filter: ExecutionFilter) => (q: ExecutionQueries) =>
    q.list('big', filter, { limit: 50 });
  return [
    { name: 'list, first page', run: list({}) },
    {
      name: 'list, page 1,000 (cursor)',
      run: (q) => q.list('big', {}, { limit: 50, after: deepCursor }),
    },
    { name: 'list, workflow + state', run: list({ workflow: 'onboarding', state: 'resolved' }) },
    { name: 'list, status=blocked', run: list({ status: 'blocked' }) },
    { name: 'list, blocked=true', run: list({ blocked: true }) },
    { name: 'list, blocked=false', run: list({ blocked: false }) },
    { name: 'list, id prefix', run: list({ idPrefix: 'x01234' }) },
    {
      name: 'list, created range (1 day)',
      run: list({
        createdAfter: new Date(Date.now() - 10 * 86_400_000).toISOString(),
        createdBefore: new Date(Date.now() - 9 * 86_400_000).toISOString(),
      }),
    },
    { name: 'counts, all', run: (q) => q.counts('big', {}, 500) },
    { name: 'counts, one workflow', run: (q) => q.counts('big', { workflow: 'onboarding' }, 500) },
    { name: 'applied, 60 buckets', run: (q) => q.decided('big', 10, 60) },
  ];
}

async function measure(queries: ExecutionQueries, all: Case[]) {
  const n = Math.max(5, rounds());
  const out: Record<string, ReturnType<typeof summarize>> = {};
  for (const c of all) {
    await c.run(queries); // warm-up, not reported
    const runs: number[] = [];
    for (let i = 0; i < n; i++) {
      const started = performance.now();
      await c.run(queries);
      runs.push(performance.now() - started);
    }
    out[c.name] = summarize(runs);
  }
  return out;
}

export async function consoleBench(env: BenchEnv) {
  await seed(env);
  const queries = new ExecutionQueries(env.knex);
  // The cursor 1,000 pages in: where a person paging far would be.
  const walk = await queries.list('big', {}, { limit: 50_000 });
  const at = walk.executions[49_999]!.position;
  const all = cases(at);
  const indexed = await measure(queries, all);
  await dropConsoleIndexes(env.knex);
  await env.knex.raw('analyze');
  const bare = await measure(queries, all);
  await createConsoleIndexes(env.knex);
  console.log(
    `\nConsole reads, tenant of ${fmt(BIG)} executions (+${fmt(BIG / 2)} of another tenant), ms: median (min–max)\n`,
  );
  console.log(
    table(
      ['read', 'with migration 002', 'without'],
      all.map((c) => [c.name, fmtSummary(indexed[c.name]!, 1), fmtSummary(bare[c.name]!, 1)]),
    ),
  );
  const file = writeResult('console', {
    machine: await describeMachine(env),
    executions: BIG,
    indexed,
    bare,
  });
  console.log(`\n${file}`);
  return { indexed, bare };
}
