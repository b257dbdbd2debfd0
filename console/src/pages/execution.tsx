import { useRef, useState } from 'preact/hooks';
import { Link, useParams } from 'wouter-preact';
import { api, seg } from '../api';
import { plural, when } from '../format';
import { useEvery, useLoad, useWorkflows } from '../load';
import { ActionsTable, SnapshotsList } from '../parts/actions';
import { Badge, ErrorNote, Loading } from '../parts/common';
import { HistoryTimeline } from '../parts/history';
import { JsonView } from '../parts/json-view';
import { SendEvent } from '../parts/send-event';
import type { Execution } from '../types';

function decoded(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/** One execution: state and data, history, actions, snapshots, and a form to send an event. */
export function ExecutionPage() {
  const id = decoded(useParams<{ id: string }>().id ?? '');
  // Bumped after an event is sent and while events wait to be applied: every part reloads.
  const [version, setVersion] = useState(0);
  const execution = useLoad(
    () => api<Execution>('GET', `/v1/executions/${seg(id)}`),
    [id, version],
  );
  const workflows = useWorkflows();
  const current = execution.data;
  // Events accepted but not yet decided, whoever sent them. A dead event holds the execution
  // (blocked) instead of advancing appliedSeq: then nothing will move until it is retried.
  // The seq of the last event sent from this page counts too: the execution read just after
  // sending may predate it.
  const lastSent = useRef({ id, seq: 0 });
  if (lastSent.current.id !== id) lastSent.current = { id, seq: 0 };
  const waiting =
    current && current.status !== 'blocked'
      ? Math.max(0, Math.max(lastSent.current.seq, (current.nextSeq ?? 1) - 1) - current.appliedSeq)
      : 0;
  const wasWaiting = useRef(false);
  if (wasWaiting.current && waiting === 0) {
    // The history may have been read just before the last event was applied: read it once more.
    setVersion((n) => n + 1);
  }
  wasWaiting.current = waiting > 0;
  useEvery(1_000, () => {
    if (wasWaiting.current) setVersion((n) => n + 1);
  });
  const definition = workflows.data?.items.find(
    (w) =>
      w.name === current?.workflow &&
      (current?.version === undefined || w.version === current.version),
  );
  return (
    <>
      <p class="crumbs">
        <Link href="/">Executions</Link> /
      </p>
      <h1 tabIndex={-1} class="mono">
        {id}
      </h1>
      <Loading loading={execution.loading && !current} />
      {execution.error && <ErrorNote error={execution.error} what={`Execution ${id}`} />}
      {current && (
        <>
          <dl class="facts">
            <dt>Workflow</dt>
            <dd>
              {current.workflow}
              {current.version !== undefined && ` v${current.version}`}
            </dd>
            <dt>State</dt>
            <dd data-testid="state">{current.state}</dd>
            <dt>Status</dt>
            <dd>
              <Badge value={current.status} />
              {current.status === 'blocked' && (
                <Link href="/dead-letters">a dead event holds it: see the dead letters</Link>
              )}
            </dd>
            <dt>Applied up to</dt>
            <dd>#{current.appliedSeq}</dd>
            <dt>Created</dt>
            <dd>{when(current.createdAt)}</dd>
            <dt>Updated</dt>
            <dd>{when(current.updatedAt)}</dd>
          </dl>
          {waiting > 0 && (
            <p class="muted" role="status">
              Waiting for {plural(waiting, 'event')} to be applied…
            </p>
          )}
          <div class="columns">
            <div>
              <section aria-labelledby="data-title">
                <h2 id="data-title">Data</h2>
                <JsonView value={current.data} label="Execution data" />
              </section>
              <SendEvent
                executionId={id}
                workflow={definition}
                onSent={(seq) => {
                  lastSent.current = { id, seq: Math.max(lastSent.current.seq, seq) };
                  setVersion((n) => n + 1);
                }}
              />
            </div>
            <HistoryTimeline executionId={id} version={version} />
          </div>
          <ActionsTable executionId={id} version={version} />
          <SnapshotsList executionId={id} version={version} />
        </>
      )}
    </>
  );
}
