import type { ComponentChildren } from 'preact';
import { api, seg } from '../api';
import { when } from '../format';
import { type Loaded, useLoad } from '../load';
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

/** The first page of one of the execution's parts, read again when the execution changes. */
function usePart<T>(
  executionId: string,
  part: 'actions' | 'snapshots',
  limit: number,
  version: number,
): Loaded<Page<T>> {
  return useLoad(
    () => api<Page<T>>('GET', `/v1/executions/${seg(executionId)}/${part}`, { query: { limit } }),
    [executionId, version],
  );
}

/** A part's section: its heading, then what went wrong, that it is empty, or `children`. */
function PartSection<T>({
  part,
  title,
  loaded,
  children,
}: {
  part: string;
  title: string;
  loaded: Loaded<Page<T>>;
  children: (items: T[], more: boolean) => ComponentChildren;
}) {
  const items = loaded.data?.items;
  return (
    <section aria-labelledby={`${part}-title`}>
      <h2 id={`${part}-title`}>{title}</h2>
      {loaded.error && <ErrorNote error={loaded.error} />}
      {items?.length === 0 && <p class="muted">No {part}.</p>}
      {items && items.length > 0 && children(items, Boolean(loaded.data?.nextCursor))}
    </section>
  );
}

/** The actions the execution's events triggered: attempts and outcome. */
export function ActionsTable({ executionId, version }: { executionId: string; version: number }) {
  const actions = usePart<ActionRecord>(executionId, 'actions', 100, version);
  return (
    <PartSection part="actions" title="Actions" loaded={actions}>
      {(items, more) => (
        <div class="scroll">
          <Table
            columns={ACTION_COLUMNS}
            items={items}
            rowKey={(action) => `${action.eventId}/${action.action}`}
          />
          {more && <p class="muted">Showing the first 100 actions.</p>}
        </div>
      )}
    </PartSection>
  );
}

/** Stored snapshots, newest first; seq 0 is the initial state. */
export function SnapshotsList({ executionId, version }: { executionId: string; version: number }) {
  const snapshots = usePart<Snapshot>(executionId, 'snapshots', 20, version);
  return (
    <PartSection part="snapshots" title="Snapshots" loaded={snapshots}>
      {(items) => (
        <ul class="plain">
          {items.map((snapshot) => (
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
      )}
    </PartSection>
  );
}
