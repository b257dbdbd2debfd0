import type { Knex } from 'knex';
import { ConflictError, NotFoundError } from '../core/errors.js';
import type {
  AppendedEvent,
  AppendResult,
  EventRef,
  ExecutionKey,
  ExecutionWorkflow,
  NewEvent,
} from './event-store.js';
import { prepared, runPrepared, unnestParams } from './prepared.js';
import { isUniqueViolation, isWriteConflict, sqlState } from './rows.js';
import { EVENTS, EXECUTIONS } from './tables.js';

/**
 * Tries of one group statement that lost a race (an idempotency key
 * committed by another transaction after this statement's snapshot, or a
 * deadlock on execution rows). Each retry reads a fresh snapshot.
 */
const RACE_RETRIES = 3;

/** A data exception (class 22): something in one item the database refused. */
function isDataException(error: unknown): boolean {
  return sqlState(error)?.startsWith('22') ?? false;
}

/** An idempotency key stored with another event name or payload. */
export function idempotencyConflict(event: NewEvent): ConflictError {
  return new ConflictError(
    'IDEMPOTENCY_CONFLICT',
    `idempotencyKey ${event.idempotencyKey} was already used with another event or payload`,
  );
}

function keyOf(event: NewEvent): string | undefined {
  if (!event.idempotencyKey) return undefined;
  return JSON.stringify([event.tenant, event.executionId, event.idempotencyKey]);
}

/**
 * Splits items into rounds in which no idempotency key repeats. A later
 * item with the key of an earlier one in the same batch must see the
 * earlier one's row (to come back as its duplicate, or as a conflict), so
 * it goes in a later round: exactly what running them one after the other
 * would give.
 */
function roundsOf(events: readonly NewEvent[]): number[][] {
  const rounds: number[][] = [];
  const seen = new Map<string, number>();
  events.forEach((event, index) => {
    const key = keyOf(event);
    const round = key === undefined ? 0 : (seen.get(key) ?? -1) + 1;
    if (key !== undefined) seen.set(key, round);
    while (rounds.length <= round) rounds.push([]);
    rounds[round]!.push(index);
  });
  return rounds;
}

/** The statement's text; its parameters are the items' fields as parallel arrays. */
const GROUP_STATEMENT_TEXT = `with input as (
       select * from unnest($1::int[], $2::text[], $3::text[], $4::uuid[], $5::text[], $6::text[], $7::text[], $8::text[])
         as t(idx, tenant, execution_id, event_id, event_name, payload, user_id, idempotency_key)),
     earlier as (
       select i.idx, e.event_id, e.seq, (e.event_name = i.event_name and e.payload = i.payload::jsonb) as same
         from input i
         cross join lateral (
           select event_id, seq, event_name, payload from ${EVENTS} e
            where e.tenant = i.tenant and e.execution_id = i.execution_id
              and e.idempotency_key = i.idempotency_key
            limit 1) e
        where i.idempotency_key is not null),
     fresh as (
       select i.* from input i where not exists (select 1 from earlier r where r.idx = i.idx)),
     counts as (
       select tenant, execution_id, count(*)::bigint as n from fresh group by tenant, execution_id),
     locked as (
       select x.id, x.tenant, x.execution_id from ${EXECUTIONS} x
        where (x.tenant, x.execution_id) in (select tenant, execution_id from counts)
        order by x.tenant, x.execution_id
        for update),
     bumped as (
       update ${EXECUTIONS} x set next_seq = x.next_seq + c.n
         from locked l join counts c on c.tenant = l.tenant and c.execution_id = l.execution_id
        where x.id = l.id
       returning x.tenant, x.execution_id, x.next_seq - c.n as first_seq),
     numbered as (
       select f.idx, f.tenant, f.execution_id, f.event_id, f.event_name, f.payload, f.user_id,
              f.idempotency_key,
              b.first_seq + row_number() over (partition by f.tenant, f.execution_id order by f.idx) - 1 as seq
         from fresh f join bumped b on b.tenant = f.tenant and b.execution_id = f.execution_id),
     inserted as (
       insert into ${EVENTS} (tenant, event_id, execution_id, seq, event_name, payload, user_id, idempotency_key, published_at)
       select tenant, event_id, execution_id, seq, event_name, payload::jsonb, user_id, idempotency_key, now()
         from numbered)
     select idx, event_id, seq, null::boolean as same from numbered
     union all
     select idx, event_id, seq, same from earlier`;

/** Named: PostgreSQL parses and plans it once per connection (see prepared.ts). */
const GROUP_STATEMENT = { name: 'flowpool_group_append', text: GROUP_STATEMENT_TEXT };

/**
 * The group-commit statement: one transaction for many events across
 * executions and tenants (the statement runs in autocommit, so one round
 * trip and one commit).
 *
 * - Seqs: the executions taking new events are locked in (tenant,
 *   execution_id) order, so two batches over the same executions wait for
 *   each other instead of deadlocking, and `next_seq` is bumped by how many
 *   new events each takes; an event's seq is `next_seq` before the bump plus
 *   its rank in the batch. The row lock serialises writers per execution as
 *   the single append does, so seqs commit in order and without gaps.
 * - Idempotency keys: a key already stored returns that row (`same` tells
 *   whether name and payload match), found by one index probe per keyed
 *   item (the `limit 1` keeps the planner from hashing the whole events
 *   table instead). Hazard: that lookup reads the
 *   statement's snapshot, taken before the execution lock was granted; a
 *   key another transaction committed meanwhile surfaces as a unique
 *   violation that aborts the whole statement (nothing written, no seq
 *   skipped), and the caller runs it again on a fresh snapshot.
 * - No processing record: an event without one is pending; the worker
 *   writes it when it first decides, fails or buries the event (see
 *   recordFailure), which keeps enqueue to one row (and no foreign-key
 *   probe) per event. `inserted` is read by nothing, yet PostgreSQL runs
 *   every data-modifying WITH to completion: it must stay a WITH.
 * - Published mark: rows are written with `published_at` set, optimistically,
 *   since their notices go out right after the commit; marking them in a
 *   second write would cost a transaction (and a rewrite of every row) per
 *   batch. Hazard: a notice that does not go out must have its mark cleared
 *   (clearPublished) or the relay resends it only after its long
 *   republish period instead of its short unpublished one.
 *
 * Keys must not repeat within `events` (see roundsOf).
 */
async function groupStatement(knex: Knex, events: readonly NewEvent[]): Promise<AppendResult[]> {
  const result = await runPrepared(knex, GROUP_STATEMENT, [
    events.map((_, index) => index),
    events.map((e) => e.tenant),
    events.map((e) => e.executionId),
    events.map((e) => e.eventId),
    events.map((e) => e.name),
    events.map((e) => JSON.stringify(e.payload ?? {})),
    events.map((e) => e.userId ?? null),
    events.map((e) => e.idempotencyKey ?? null),
  ]);
  const rows = result.rows as Array<{
    idx: number;
    event_id: string;
    seq: string;
    same: boolean | null;
  }>;
  const outcomes: Array<AppendResult | undefined> = new Array(events.length);
  for (const row of rows) {
    const event = events[row.idx]!;
    if (row.same === null) {
      outcomes[row.idx] = { eventId: row.event_id, seq: Number(row.seq), duplicate: false };
    } else if (row.same) {
      outcomes[row.idx] = { eventId: row.event_id, seq: Number(row.seq), duplicate: true };
    } else {
      outcomes[row.idx] = {
        error: idempotencyConflict(event),
      };
    }
  }
  // Neither taken nor found by its key: the execution does not exist (for this tenant).
  return outcomes.map(
    (outcome, index) =>
      outcome ?? { error: new NotFoundError(`execution ${events[index]!.executionId}`) },
  );
}

/**
 * Appends a round (keys unique) in one statement, retrying lost races. When
 * the database refuses the data of some item (a class 22 error), or the race
 * keeps being lost, each item goes alone through `appendOne`, so one bad item
 * fails only itself. Any other error (the database is down) fails the round.
 */
async function appendRound(
  knex: Knex,
  events: readonly NewEvent[],
  appendOne: (event: NewEvent) => Promise<AppendedEvent>,
): Promise<AppendResult[]> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await groupStatement(knex, events);
    } catch (error) {
      // A lost race: a key committed meanwhile, or a deadlock or serialization failure.
      const race = isUniqueViolation(error) || isWriteConflict(error);
      if (race && attempt < RACE_RETRIES) continue;
      if (!race && !isDataException(error)) throw error;
      const alone: AppendResult[] = [];
      for (const event of events) {
        try {
          alone.push(await appendOne(event));
        } catch (itemError) {
          alone.push({ error: itemError });
        }
      }
      return alone;
    }
  }
}

/**
 * Appends events of any executions and tenants as a group commit: one
 * statement (one transaction) per round of distinct idempotency keys,
 * usually one. Results are in the order of `events`; a round that failed
 * as a whole (the database unreachable: nothing of it committed) gives its
 * error to each of its items.
 */
export async function appendBatch(
  knex: Knex,
  events: readonly NewEvent[],
  appendOne: (event: NewEvent) => Promise<AppendedEvent>,
): Promise<AppendResult[]> {
  const results: AppendResult[] = new Array(events.length);
  for (const round of roundsOf(events)) {
    let outcomes: AppendResult[];
    try {
      outcomes = await appendRound(
        knex,
        round.map((index) => events[index]!),
        appendOne,
      );
    } catch (error) {
      // Nothing of this round committed; earlier rounds did and keep their results.
      outcomes = round.map(() => ({ error }));
    }
    round.forEach((index, position) => {
      results[index] = outcomes[position]!;
    });
  }
  return results;
}

/**
 * Clears the published mark of events whose notices did not go out, so the
 * relay resends them after its short unpublished period. Rows another
 * transaction holds are skipped: a worker is applying them (they will not
 * be pending), and waiting on a batch of its rows in another order could
 * deadlock.
 */
export async function clearPublished(knex: Knex, refs: readonly EventRef[]): Promise<void> {
  if (refs.length === 0) return;
  await knex.raw(
    `with refs as (
       select * from unnest(?::text[], ?::uuid[]) as r(tenant, event_id)),
     held as (
       select e.id from ${EVENTS} e
         join refs r on e.tenant = r.tenant and e.event_id = r.event_id
        where e.status = 'pending'
        for update of e skip locked)
     update ${EVENTS} e set published_at = null from held h where e.id = h.id`,
    [refs.map((r) => r.tenant), refs.map((r) => r.eventId)] as unknown as Knex.RawBinding[],
  );
}

const WORKFLOWS_OF = prepared(
  'flowpool_workflows_of',
  `select x.tenant, x.execution_id, x.workflow_name, x.workflow_version
     from ${unnestParams('text', 'text')} as k(tenant, execution_id)
     join ${EXECUTIONS} x on x.tenant = k.tenant and x.execution_id = k.execution_id`,
);

/**
 * The workflows of many executions in one read (those that exist; an
 * execution of another tenant is not found). What enqueue needs to check an
 * event before its commit, for executions it has not seen yet.
 */
export async function workflowsOf(
  knex: Knex,
  keys: readonly ExecutionKey[],
): Promise<ExecutionWorkflow[]> {
  if (keys.length === 0) return [];
  const result = await runPrepared(knex, WORKFLOWS_OF, [
    keys.map((k) => k.tenant),
    keys.map((k) => k.executionId),
  ]);
  return (
    result.rows as Array<{
      tenant: string;
      execution_id: string;
      workflow_name: string;
      workflow_version: number;
    }>
  ).map((row) => ({
    tenant: row.tenant,
    executionId: row.execution_id,
    workflowName: row.workflow_name,
    workflowVersion: Number(row.workflow_version),
  }));
}
