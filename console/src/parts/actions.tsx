import { api, seg } from '../api';
import { when } from '../format';
import { useLoad } from '../load';
import type { ActionRecord, Page, Snapshot } from '../types';
import { Badge, ErrorNote } from './common';
import { JsonView } from './json-view';
import { type Column, Table } from './table';

const ACTION_COLUMNS: Column<ActionRecord>[] = [
  { label: 'Event', cell: (action) => `#${action.seq} ${action.event}` },
  { label: 'Action', cell: (action) => action.action },
  { label: 'Outcome', cell: (action) => <Badge value={action.status} /> },
  { label: 'Attempts', num: true, cell: (action) => action.attempts },
  {
    label: 'Error',
    cell: (action) => (action.errorCode ? `${action.errorCode}: ${action.error ?? ''}` : '—'),
  },
  { label: 'Updated', cell: (action) => when(action.updatedAt) },
];

/** The actions the execution's events triggered: attempts and outcome. */
export function ActionsTable({ executionId, version }: { executionId: string; version: number }) {
  const actions = useLoad(
    () =>
      api<Page<ActionRecord>>('GET', `/v1/executions/${seg(executionId)}/actions`, {
        query: { limit: 100 },
      }),
    [executionId, version],
  );
  return (
    <section aria-labelledby="actions-title">
      <h2 id="actions-title">Actions</h2>
      {actions.error && <ErrorNote error={actions.error} />}
      {actions.data?.items.length === 0 && <p class="muted">No actions.</p>}
      {actions.data && actions.data.items.length > 0 && (
        <div class="scroll">
          <Table
            columns={ACTION_COLUMNS}
            items={actions.data.items}
            rowKey={(action) => `${action.eventId}/${action.action}`}
          />
          {actions.data.nextCursor && <p class="muted">Showing the first 100 actions.</p>}
        </div>
      )}
    </section>
  );
}

/** Stored snapshots, newest first; seq 0 is the initial state. */
export function SnapshotsList({ executionId, version }: { executionId: string; version: number }) {
  const snapshots = useLoad(
    () =>
      api<Page<Snapshot>>('GET', `/v1/executions/${seg(executionId)}/snapshots`, {
        query: { limit: 20 },
      }),
    [executionId, version],
  );
  return (
    <section aria-labelledby="snapshots-title">
      <h2 id="snapshots-title">Snapshots</h2>
      {snapshots.error && <ErrorNote error={snapshots.error} />}
      {snapshots.data?.items.length === 0 && <p class="muted">No snapshots.</p>}
      <ul class="plain">
        {snapshots.data?.items.map((snapshot) => (
          <li key={snapshot.seq}>
            <details>
              <summary>
                at #{snapshot.seq}: {snapshot.state}{' '}
                <span class="muted">{when(snapshot.createdAt)}</span>
              </summary>
              <JsonView value={snapshot.data} label={`Data at snapshot ${snapshot.seq}`} />
            </details>
          </li>
        ))}
      </ul>
    </section>
  );
}
