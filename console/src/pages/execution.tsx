import { useState } from 'preact/hooks';
import { Link, useParams } from 'wouter-preact';
import { api, seg } from '../api';
import { when } from '../format';
import { useEvery, useLoad } from '../load';
import { ActionsTable, SnapshotsList } from '../parts/actions';
import { Badge, ErrorNote, Loading } from '../parts/common';
import { HistoryTimeline } from '../parts/history';
import { JsonView } from '../parts/json-view';
import { SendEvent } from '../parts/send-event';
import type { Execution, Page, WorkflowDefinition } from '../types';

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
  // Bumped after an event is sent and while it waits to be applied: every part reloads.
  const [version, setVersion] = useState(0);
  const [waitingFor, setWaitingFor] = useState<number>();
  const execution = useLoad(
    () => api<Execution>('GET', `/v1/executions/${seg(id)}`),
    [id, version],
  );
  const workflows = useLoad(() => api<Page<WorkflowDefinition>>('GET', '/v1/workflows'), []);
  const current = execution.data;
  // A dead event holds the execution (blocked) instead of advancing appliedSeq.
  if (
    waitingFor !== undefined &&
    current &&
    (current.appliedSeq >= waitingFor || current.status === 'blocked')
  ) {
    setWaitingFor(undefined);
    // The history may have been read just before the event was applied: read it once more.
    setVersion((n) => n + 1);
  }
  useEvery(1_000, () => {
    if (waitingFor !== undefined) setVersion((n) => n + 1);
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
            </dd>
            <dt>Applied up to</dt>
            <dd>#{current.appliedSeq}</dd>
            <dt>Created</dt>
            <dd>{when(current.createdAt)}</dd>
            <dt>Updated</dt>
            <dd>{when(current.updatedAt)}</dd>
          </dl>
          {waitingFor !== undefined && (
            <p class="muted" role="status">
              Waiting for event #{waitingFor} to be applied…
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
                  setWaitingFor(seq);
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
