import type { Knex } from 'knex';

/**
 * One page of `candidates` (a select already filtered and ordered by
 * `order`; the limit is added here), cut at `limit` rows and at `maxBytes`
 * of `bytes` summed in that order, always at least one row.
 */
export interface PageQuery {
  candidates: string;
  bindings: Knex.Value[];
  /** The JSON bytes of candidate `c`. */
  bytes: string;
  order: string;
}

export async function boundedPage<Row, T>(
  knex: Knex,
  query: PageQuery,
  bounds: { limit: number; maxBytes: number },
  toItem: (row: Row) => T,
): Promise<{ items: T[]; more: boolean }> {
  // Limit first, then count bytes over the few rows left, in PostgreSQL:
  // rows past the budget never reach this process.
  const { rows } = await knex.raw<{ rows: Array<Row & { fetched: string }> }>(
    `with candidates as (
       select c.*, row_number() over w as n, sum(${query.bytes}) over w as running
         from (${query.candidates} limit ?) c
       window w as (order by ${query.order}))
     select k.*, (select count(*) from candidates) as fetched
       from candidates k
      where k.n <= ? and (k.n = 1 or k.running <= ?)
      order by ${query.order}`,
    [...query.bindings, bounds.limit + 1, bounds.limit, bounds.maxBytes],
  );
  const fetched = rows.length === 0 ? 0 : Number(rows[0]!.fetched);
  return { items: rows.map(toItem), more: fetched > rows.length };
}
