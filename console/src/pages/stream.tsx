import { api } from '../api';
import { useEvery, useLoad } from '../load';
import { ErrorNote, Loading } from '../parts/common';
import { RateChart } from '../parts/rate-chart';
import { type Column, Table } from '../parts/table';
import type { StreamHealth } from '../types';

function idle(ms: number): string {
  if (ms < 1_000) return `${ms} ms`;
  if (ms < 120_000) return `${Math.round(ms / 1_000)} s`;
  return `${Math.round(ms / 60_000)} min`;
}

const CONSUMER_COLUMNS: Column<StreamHealth['consumers'][number]>[] = [
  { label: 'Consumer', cell: (consumer) => <span class="mono">{consumer.name}</span> },
  { label: 'Pending', num: true, cell: (consumer) => consumer.pending },
  { label: 'Idle', num: true, cell: (consumer) => idle(consumer.idleMs) },
];

/** Is the pool keeping up: backlog, consumers, and this tenant's applied events per second. */
export function StreamPage() {
  const health = useLoad(() => api<StreamHealth>('GET', '/v1/stream'), []);
  useEvery(5_000, health.reload);
  const data = health.data;
  const points =
    data?.applied.map((bucket) => ({
      at: Date.parse(bucket.at),
      perSecond: bucket.count / data.bucketSeconds,
    })) ?? [];
  const rejected = data?.applied.reduce((sum, bucket) => sum + bucket.rejected, 0) ?? 0;
  const applied = data?.applied.reduce((sum, bucket) => sum + bucket.count, 0) ?? 0;
  return (
    <>
      <h1 tabIndex={-1}>Stream health</h1>
      <Loading loading={health.loading && !data} />
      {health.error && <ErrorNote error={health.error} />}
      {data && (
        <>
          <section aria-labelledby="backlog-title">
            <h2 id="backlog-title">Backlog</h2>
            {data.backlog.readOk ? (
              <dl class="cards">
                <div>
                  <dt>Not yet read (lag)</dt>
                  <dd>{data.backlog.lag ?? '—'}</dd>
                </div>
                <div>
                  <dt>Read, not yet done (pending)</dt>
                  <dd>{data.backlog.pending ?? '—'}</dd>
                </div>
                <div>
                  <dt>Consumers</dt>
                  <dd>{data.consumers.length}</dd>
                </div>
              </dl>
            ) : (
              <p class="error" role="alert">
                The stream could not be read ({data.backlog.errorCode ?? 'unavailable'}).
              </p>
            )}
          </section>
          <section aria-labelledby="rate-title">
            <h2 id="rate-title">Events applied per second</h2>
            <RateChart points={points} />
            <p class="muted">
              Your tenant, last {Math.round((data.applied.length * data.bucketSeconds) / 60)}{' '}
              minutes in {data.bucketSeconds}-second steps: {applied} applied, {rejected} rejected.
            </p>
          </section>
          <section aria-labelledby="consumers-title">
            <h2 id="consumers-title">Consumers</h2>
            {data.consumers.length === 0 ? (
              <p class="muted">No consumer has joined the group.</p>
            ) : (
              <div class="scroll">
                <Table
                  columns={CONSUMER_COLUMNS}
                  items={data.consumers}
                  rowKey={(consumer) => consumer.name}
                />
              </div>
            )}
          </section>
        </>
      )}
    </>
  );
}
