import type { Knex } from 'knex';

export interface LiveStats {
  appliedPerSecond: number;
  p99LatencyMs: number | undefined;
  deadLetters: number;
  appliedTotal: number;
}

/** Throughput, latency and dead letters over the last few seconds, straight from the event log. */
export async function readLiveStats(knex: Knex, windowSeconds = 5): Promise<LiveStats> {
  const { rows } = await knex.raw(
    `select count(*) filter (where applied_at > now() - make_interval(secs => ?)) as recent,
            percentile_cont(0.99) within group (order by extract(epoch from (applied_at - created_at)) * 1000)
              filter (where applied_at > now() - make_interval(secs => ?)) as p99,
            count(*) filter (where status = 'dead') as dead,
            count(*) filter (where status in ('applied', 'rejected')) as applied
       from workflow_events`,
    [windowSeconds, windowSeconds],
  );
  const row = rows[0] as { recent: string; p99: number | null; dead: string; applied: string };
  return {
    appliedPerSecond: Math.round(Number(row.recent) / windowSeconds),
    p99LatencyMs: row.p99 === null ? undefined : Math.round(row.p99),
    deadLetters: Number(row.dead),
    appliedTotal: Number(row.applied),
  };
}
