import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorCode } from '../core/errors.js';
import { startTestRuntime, type TestRuntime } from '../test/support/runtime.js';
import type { EnqueueEventInput, EnqueueOutcome } from './workflow-service.js';

const TENANT = 'group';

async function start(rt: TestRuntime, tenant = TENANT): Promise<string> {
  const { executionId } = await rt.service.startExecution({ tenant, workflow: 'ticket-lifecycle' });
  return executionId;
}

async function rowsOf(rt: TestRuntime, executionId: string, tenant = TENANT) {
  return (await rt.db
    .knex('workflow_events')
    .where({ tenant, execution_id: executionId })
    .orderBy('seq')
    .select('event_id', 'seq', 'idempotency_key', 'payload', 'published_at')) as Array<{
    event_id: string;
    seq: string;
    idempotency_key: string | null;
    payload: { text: string };
    published_at: Date | null;
  }>;
}

/**
 * The transactions that wrote an execution's events, as PostgreSQL records
 * them (rows written by one transaction share its id, xmin), and whether a
 * processing record exists for each: enqueue writes none, a worker does.
 */
async function writersOf(rt: TestRuntime, executionId: string) {
  const result = await rt.db.knex.raw(
    `select e.xmin::text as event_xmin, e.published_at, p.event_id is not null as has_record
       from workflow_events e left join workflow_event_processing p on p.event_id = e.event_id
      where e.tenant = ? and e.execution_id = ?`,
    [TENANT, executionId],
  );
  return result.rows as Array<{
    event_xmin: string;
    published_at: Date | null;
    has_record: boolean;
  }>;
}

describe('group-commit enqueue', () => {
  let rt: TestRuntime;
  /** A second writer on the same database, as another api process would be. */
  let other: TestRuntime;
  beforeAll(async () => {
    rt = await startTestRuntime();
    other = await startTestRuntime({ shareWith: rt });
  });
  afterAll(async () => {
    await other.close();
    await rt.close();
  });

  it('commits concurrent enqueues together, rows written once, one notice per execution', async () => {
    const ids = await Promise.all(Array.from({ length: 8 }, () => start(rt)));
    const length = await rt.redisHandle.redis.xlen(rt.settings.stream).catch(() => 0);
    const calls = 64;
    await Promise.all(
      Array.from({ length: calls }, (_, i) =>
        rt.service.enqueueEvent({
          tenant: TENANT,
          executionId: ids[i % ids.length]!,
          event: 'comment',
          payload: { text: `${i}` },
        }),
      ),
    );
    for (const id of ids) {
      expect((await rowsOf(rt, id)).map((row) => Number(row.seq))).toEqual(
        Array.from({ length: calls / ids.length }, (_, i) => i + 1),
      );
    }
    // The first call goes at once, the others queue behind it and share the next commit.
    const writers = (await Promise.all(ids.map((id) => writersOf(rt, id)))).flat();
    expect(writers).toHaveLength(calls);
    expect(new Set(writers.map((row) => row.event_xmin)).size).toBeLessThan(calls / 4);
    // Each row written once, marked published by the commit that wrote it, and
    // no processing record: that is written when a worker first works on it.
    for (const row of writers) {
      expect(row.published_at).not.toBeNull();
      expect(row.has_record).toBe(false);
    }
    const notices = (await rt.redisHandle.redis.xlen(rt.settings.stream)) - length;
    expect(notices).toBeLessThan(calls / 2);
    expect(notices).toBeGreaterThanOrEqual(ids.length);
  });

  it('looks up the executions a writer has not seen together, in one or two reads', async () => {
    const ids = await Promise.all(Array.from({ length: 50 }, () => start(rt)));
    let lookups = 0;
    const count = (query: { sql: string }) => {
      // Reads of executions alone (the commits name workflow_events too).
      if (query.sql.includes('workflow_executions') && !query.sql.includes('workflow_events'))
        lookups += 1;
    };
    other.db.knex.on('query', count);
    try {
      // `other` has not seen these executions: it must learn each one's workflow.
      const results = await other.service.enqueueEvents(
        ids.map((executionId) => ({
          tenant: TENANT,
          executionId,
          event: 'comment',
          payload: { text: 'x' },
        })),
      );
      expect(results.every((r) => r.ok)).toBe(true);
    } finally {
      other.db.knex.removeListener('query', count);
    }
    // The first lookup goes at once, the other 49 share the next.
    expect(lookups).toBeLessThanOrEqual(2);
  });

  it('gives each item of a bulk call its own result; one bad item fails only itself', async () => {
    const id = await start(rt);
    const other = await start(rt, 'someone-else');
    const first = await rt.service.enqueueEvent({
      tenant: TENANT,
      executionId: id,
      event: 'comment',
      payload: { text: 'first' },
      idempotencyKey: 'k',
    });
    const base = { tenant: TENANT, executionId: id };
    const requests: EnqueueEventInput[] = [
      { ...base, event: 'comment', payload: { text: 'a' } },
      { ...base, event: 'comment', payload: { text: 'first' }, idempotencyKey: 'k' },
      { ...base, event: 'comment', payload: { text: 'another' }, idempotencyKey: 'k' },
      { ...base, event: 'comment', payload: { nope: 1 } },
      { ...base, executionId: 'missing', event: 'comment', payload: { text: 'x' } },
      // Another tenant's execution is not found for this tenant.
      { ...base, executionId: other, event: 'comment', payload: { text: 'x' } },
      {
        ...base,
        event: 'comment',
        payload: { text: 'y'.repeat(200) },
        limits: { eventPayloadBytes: 100, executionDataBytes: 1000 },
      },
      // PostgreSQL's jsonb refuses a NUL: the database fails this item alone.
      { ...base, event: 'comment', payload: { text: 'nul\u0000' } },
      { ...base, event: 'comment', payload: { text: 'b' }, idempotencyKey: 'k2' },
      { ...base, event: 'comment', payload: { text: 'b' }, idempotencyKey: 'k2' },
      { ...base, event: 'comment', payload: { text: 'c' }, idempotencyKey: 'k2' },
    ];
    const results = await rt.service.enqueueEvents(requests);
    const summary = results.map((result: EnqueueOutcome) =>
      result.ok ? (result.value.duplicate ? 'duplicate' : 'accepted') : errorCode(result.error),
    );
    expect(summary.slice(0, 8)).toEqual([
      'accepted',
      'duplicate',
      'IDEMPOTENCY_CONFLICT',
      'BAD_INPUT',
      'NOT_FOUND',
      'NOT_FOUND',
      'BAD_INPUT',
      summary[7],
    ]);
    expect(results[7]!.ok).toBe(false);
    expect(summary.slice(8)).toEqual(['accepted', 'duplicate', 'IDEMPOTENCY_CONFLICT']);
    expect(results[1]).toEqual({
      ok: true,
      value: { eventId: first.eventId, seq: first.seq, duplicate: true },
    });
    const accepted = results.filter((r) => r.ok).map((r) => (r.ok ? r.value.eventId : ''));
    expect(results[9]).toMatchObject({ ok: true, value: { eventId: accepted.at(-1) } });
    const rows = await rowsOf(rt, id);
    expect(rows.map((row) => [Number(row.seq), row.payload.text])).toEqual([
      [1, 'first'],
      [2, 'a'],
      [3, 'b'],
    ]);
    expect(await rowsOf(rt, other, 'someone-else')).toEqual([]);
  });

  it('stores each payload of a bulk call as given, and finds its earlier twin by key', async () => {
    const id = await start(rt);
    const texts = [
      'quotes " and \\" and backslashes \\ \\\\',
      'tab\t newline\n carriage\r',
      'é 漢字 😀 \u2028',
      '{"json":"inside", "n": [1, 2.5e300]}',
      '',
    ];
    const base = { tenant: TENANT, executionId: id, event: 'comment' };
    const first = await rt.service.enqueueEvents(
      texts.map((text, i) => ({ ...base, payload: { text }, idempotencyKey: `p${i}` })),
    );
    expect(first.every((r) => r.ok && !r.value.duplicate)).toBe(true);
    const rows = await rowsOf(rt, id);
    expect(rows.map((row) => row.payload.text)).toEqual(texts);
    // The same items again: each is the duplicate of its stored row (same name, same payload).
    const again = await rt.service.enqueueEvents(
      texts.map((text, i) => ({ ...base, payload: { text }, idempotencyKey: `p${i}` })),
    );
    expect(again.map((r) => r.ok && r.value.duplicate)).toEqual(texts.map(() => true));
  });

  it('property: concurrent enqueues with repeated keys give seqs 1..n and one row per key', async () => {
    const op = fc.record({
      execution: fc.nat({ max: 3 }),
      key: fc.option(fc.constantFrom('a', 'b', 'c', 'd'), { nil: undefined }),
      variant: fc.constantFrom('x', 'y'),
      bulk: fc.boolean(),
      writer: fc.constantFrom(0, 1),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 40 }), async (ops) => {
        const ids = await Promise.all([0, 1, 2, 3].map(() => start(rt)));
        const requests = ops.map((o) => ({
          tenant: TENANT,
          executionId: ids[o.execution]!,
          event: 'comment',
          payload: { text: o.variant },
          idempotencyKey: o.key,
        }));
        // Some alone, some in bulk calls, from two writers, all at once.
        const writers = [rt.service, other.service];
        const single = requests.map((r, i) => (ops[i]!.bulk ? undefined : r));
        const bulk = requests.filter((_, i) => ops[i]!.bulk);
        const half = Math.ceil(bulk.length / 2);
        const [singles, bulkA, bulkB] = await Promise.all([
          Promise.all(
            single.map((r, i) =>
              r
                ? writers[ops[i]!.writer]!.enqueueEvent(r).then(
                    (value): EnqueueOutcome => ({ ok: true, value }),
                    (error: unknown): EnqueueOutcome => ({ ok: false, error }),
                  )
                : undefined,
            ),
          ),
          rt.service.enqueueEvents(bulk.slice(0, half)),
          other.service.enqueueEvents(bulk.slice(half)),
        ]);
        const bulkResults = [...bulkA, ...bulkB];
        let b = 0;
        const results = ops.map((o, i) => (o.bulk ? bulkResults[b++]! : singles[i]!));

        for (let e = 0; e < ids.length; e += 1) {
          const rows = await rowsOf(rt, ids[e]!);
          expect(rows.map((row) => Number(row.seq))).toEqual(rows.map((_, i) => i + 1));
          const keyed = rows.filter((row) => row.idempotency_key !== null);
          expect(new Set(keyed.map((row) => row.idempotency_key)).size).toBe(keyed.length);
          const mine = ops
            .map((o, i) => ({ o, r: results[i]! }))
            .filter(({ o }) => o.execution === e);
          const unkeyed = mine.filter(({ o }) => o.key === undefined);
          const keys = new Set(mine.flatMap(({ o }) => (o.key ? [o.key] : [])));
          expect(rows).toHaveLength(unkeyed.length + keys.size);
          const byId = new Map(rows.map((row) => [row.event_id, row]));
          for (const { o, r } of mine) {
            if (o.key === undefined) {
              expect(r.ok && !r.value.duplicate).toBe(true);
              continue;
            }
            const row = keyed.find((k) => k.idempotency_key === o.key)!;
            if (row.payload.text === o.variant) {
              expect(r.ok).toBe(true);
              if (r.ok)
                expect([r.value.eventId, r.value.seq]).toEqual([row.event_id, Number(row.seq)]);
            } else {
              expect(r.ok ? 'accepted' : errorCode(r.error)).toBe('IDEMPOTENCY_CONFLICT');
            }
          }
          for (const { r } of mine) if (r.ok) expect(byId.get(r.value.eventId)).toBeDefined();
          const next = await rt.service.getExecution(TENANT, ids[e]!);
          expect(next?.nextSeq).toBe(rows.length + 1);
        }
      }),
      { numRuns: 25 },
    );
  });
});
