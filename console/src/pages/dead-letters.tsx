import { Fragment } from 'preact';
import { useState } from 'preact/hooks';
import { Link } from 'wouter-preact';
import { ApiError, api, seg } from '../api';
import { plural } from '../format';
import { useLoad } from '../load';
import { ErrorNote, Loading } from '../parts/common';
import type { DeadLetter, RetryResult } from '../types';

interface EventView {
  eventId: string;
  executionId: string;
  status: string;
  error?: string;
  errorCode?: string;
}

function Inspect({ eventId }: { eventId: string }) {
  const event = useLoad(() => api<EventView>('GET', `/v1/events/${seg(eventId)}`), [eventId]);
  if (event.error) return <ErrorNote error={event.error} what={`Event ${eventId}`} />;
  if (!event.data) return <Loading loading={true} />;
  return (
    <dl class="facts">
      <dt>Event id</dt>
      <dd class="mono">{event.data.eventId}</dd>
      <dt>Event status</dt>
      <dd>{event.data.status}</dd>
      <dt>Error code</dt>
      <dd>{event.data.errorCode ?? '—'}</dd>
      <dt>Error</dt>
      <dd class="pre">{event.data.error ?? '—'}</dd>
    </dl>
  );
}

async function retry(eventIds: string[]): Promise<RetryResult[]> {
  if (eventIds.length === 1) {
    const [eventId] = eventIds as [string];
    try {
      const done = await api<{ executionId: string }>(
        'POST',
        `/v1/dead-letters/${seg(eventId)}/retry`,
      );
      return [{ eventId, status: 'retried', executionId: done.executionId }];
    } catch (error) {
      if (!(error instanceof ApiError) || error.status === 0 || error.status >= 500) throw error;
      return [{ eventId, status: 'error', error: { code: error.code, message: error.message } }];
    }
  }
  const answer = await api<{ results: RetryResult[] }>('POST', '/v1/dead-letters/retry', {
    body: { eventIds },
  });
  return answer.results;
}

/** Dead-lettered events: why, inspect one, retry one or a selection. */
export function DeadLettersPage() {
  const list = useLoad(
    () => api<{ deadLetters: DeadLetter[] }>('GET', '/v1/dead-letters', { query: { limit: 100 } }),
    [],
  );
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [open, setOpen] = useState<string>();
  const [outcome, setOutcome] = useState<string>();
  const [failure, setFailure] = useState<ApiError>();
  const [busy, setBusy] = useState(false);
  const rows = list.data?.deadLetters ?? [];
  const toggle = (eventId: string, on: boolean) =>
    setSelected((all) => {
      const next = new Set(all);
      if (on) next.add(eventId);
      else next.delete(eventId);
      return next;
    });
  const run = async (eventIds: string[]) => {
    setBusy(true);
    setOutcome(undefined);
    setFailure(undefined);
    try {
      const results = await retry(eventIds);
      const done = results.filter((result) => result.status === 'retried').length;
      const refused = results.filter((result) => result.status === 'error');
      setOutcome(
        `${plural(done, 'event')} put back to pending.` +
          (refused.length
            ? ` Not retried: ${refused.map((r) => `${r.eventId.slice(0, 8)} (${r.error?.code})`).join(', ')}.`
            : ''),
      );
      setSelected(new Set());
      list.reload();
    } catch (error) {
      setFailure(error instanceof ApiError ? error : new ApiError(0, 'CONSOLE', 'retry failed'));
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <h1 tabIndex={-1}>Dead letters</h1>
      <p class="muted">
        Events that failed for good. Retrying puts an event back to pending; the workers pick it up.
      </p>
      <div class="toolbar">
        <button
          type="button"
          disabled={busy || selected.size === 0}
          onClick={() => void run([...selected])}
        >
          Retry selected ({selected.size})
        </button>
        <button type="button" class="quiet" onClick={list.reload}>
          Refresh
        </button>
      </div>
      {outcome && (
        <p class="ok" role="status">
          {outcome}
        </p>
      )}
      {failure && <ErrorNote error={failure} />}
      <Loading loading={list.loading} />
      {list.error && <ErrorNote error={list.error} />}
      {list.data && rows.length === 0 && <p>No dead letters.</p>}
      {rows.length > 0 && (
        <div class="scroll">
          <table class="list">
            <caption class="sr-only">Dead letters, newest first</caption>
            <thead>
              <tr>
                <th scope="col">
                  <input
                    type="checkbox"
                    aria-label="Select all dead letters"
                    checked={selected.size === rows.length}
                    onChange={(e) =>
                      setSelected(
                        e.currentTarget.checked ? new Set(rows.map((r) => r.eventId)) : new Set(),
                      )
                    }
                  />
                </th>
                <th scope="col">Execution</th>
                <th scope="col">Event</th>
                <th scope="col">Error code</th>
                <th scope="col">Error</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {rows.map((row) => (
                <Fragment key={row.eventId}>
                  <tr>
                    <td data-label="Select">
                      <input
                        type="checkbox"
                        aria-label={`Select ${row.event} #${row.seq} of ${row.executionId}`}
                        checked={selected.has(row.eventId)}
                        onChange={(e) => toggle(row.eventId, e.currentTarget.checked)}
                      />
                    </td>
                    <td data-label="Execution">
                      <Link href={`/executions/${seg(row.executionId)}`}>{row.executionId}</Link>
                    </td>
                    <td data-label="Event">
                      #{row.seq} {row.event}
                    </td>
                    <td data-label="Error code">
                      <code>{row.errorCode ?? '—'}</code>
                    </td>
                    <td class="clip" data-label="Error">
                      {row.error ?? '—'}
                    </td>
                    <td class="row-actions" data-label="">
                      <button
                        type="button"
                        class="quiet small"
                        aria-expanded={open === row.eventId}
                        aria-label={`Inspect ${row.event} #${row.seq} of ${row.executionId}`}
                        onClick={() => setOpen(open === row.eventId ? undefined : row.eventId)}
                      >
                        Inspect
                      </button>
                      <button
                        type="button"
                        class="small"
                        disabled={busy}
                        aria-label={`Retry ${row.event} #${row.seq} of ${row.executionId}`}
                        onClick={() => void run([row.eventId])}
                      >
                        Retry
                      </button>
                    </td>
                  </tr>
                  {open === row.eventId && (
                    <tr class="inspect">
                      <td colSpan={6}>
                        <Inspect eventId={row.eventId} />
                      </td>
                    </tr>
                  )}
                </Fragment>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
