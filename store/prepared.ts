/**
 * Named statements: PostgreSQL parses and plans one once per connection,
 * not once per call. The hot statements (group enqueue, batched read,
 * batched commit) are CTEs whose planning cost more PostgreSQL CPU than
 * running them: measured with pg_stat_statements over an open-loop run,
 * the batched commit planned for 1.8 s and ran for 1.0 s, the batched read
 * 1.6 s against 0.45 s (docs/benchmarks.md §12).
 */
import type { Knex } from 'knex';

export interface PreparedStatement {
  /** Unique per text: a connection refuses a known name with another text. */
  readonly name: string;
  /** PostgreSQL's own placeholders ($1, $2, …). */
  readonly text: string;
}

/**
 * A named statement written with knex's `?` placeholders, numbered here in
 * order of appearance. Hazard: every `?` in the text is taken for a
 * placeholder, so a text using jsonb's `?` operators cannot be written so.
 * Hazard: a named statement's result columns are fixed when it is first
 * prepared on a connection; one selecting `*` from a table a later
 * migration widens fails on that connection ("cached plan must not change
 * result type"). Name the columns.
 */
export function prepared(name: string, text: string): PreparedStatement {
  let n = 0;
  return { name, text: text.replace(/\?/g, () => `$${++n}`) };
}

interface PgConnection {
  query(config: { name: string; text: string; values: unknown[] }): Promise<{ rows: unknown[] }>;
}

/**
 * Runs a named statement on a connection of `db` (knex.raw cannot name
 * one). Inside a transaction, knex hands out the transaction's connection.
 */
export async function runPrepared(
  db: Knex,
  statement: PreparedStatement,
  values: readonly unknown[],
): Promise<{ rows: unknown[] }> {
  const connection = (await db.client.acquireConnection()) as PgConnection;
  try {
    return await connection.query({
      name: statement.name,
      text: statement.text,
      values: [...values],
    });
  } finally {
    await db.client.releaseConnection(connection);
  }
}

/**
 * `unnest` over array parameters of the given element types, as a named
 * statement should write it. Each array is wrapped in `(select …)` so the
 * planner estimates its length the same way in a plan for given values and
 * in the generic plan: given a literal array it counts the elements (one,
 * say), given a parameter it guesses ten. With the two estimates apart,
 * PostgreSQL judges the generic plan dearer and plans every call afresh,
 * which undoes the naming (the batched read stayed at one plan per call).
 */
export function unnestParams(...types: readonly string[]): string {
  return `unnest(${types.map((t) => `(select ?::${t}[])`).join(', ')})`;
}
