import { api, seg } from '../api';
import { when } from '../format';
import { useLoad } from '../load';
import type { ActionRecord, Page, Snapshot } from '../types';
import { Badge, ErrorNote } from './common';
import { JsonView } from './json-view';

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
          <table>
            <thead>
              <tr>
                <th scope="col">Event</th>
                <th scope="col">Action</th>
                <th scope="col">Outcome</th>
                <th scope="col" class="num">
                  Attempts
                </th>
                <th scope="col">Error</th>
                <th scope="col">Updated</th>
              </tr>
            </thead>
            <tbody>
              {actions.data.items.map((action) => (
                <tr key={`${action.eventId}/${action.action}`}>
                  <td>
                    #{action.seq} {action.event}
                  </td>
                  <td>{action.action}</td>
                  <td>
                    <Badge value={action.status} />
                  </td>
                  <td class="num">{action.attempts}</td>
                  <td>{action.errorCode ? `${action.errorCode}: ${action.error ?? ''}` : '—'}</td>
                  <td>{when(action.updatedAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
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
