import { useEffect, useState } from 'preact/hooks';
import { type ApiError, api, seg } from '../api';
import { when } from '../format';
import type { History, HistoryEvent } from '../types';
import { Badge, ErrorNote } from './common';
import { JsonView } from './json-view';

/**
 * The execution's events in seq order, page after page (nextAfterSeq). `version`
 * changes when the caller knows more happened (an event was sent): the pages reload.
 */
export function HistoryTimeline({
  executionId,
  version,
}: {
  executionId: string;
  version: number;
}) {
  const [events, setEvents] = useState<HistoryEvent[]>([]);
  const [next, setNext] = useState<number | undefined>();
  const [error, setError] = useState<ApiError>();
  const load = async (afterSeq: number, into: HistoryEvent[]) => {
    try {
      const page = await api<History>('GET', `/v1/executions/${seg(executionId)}/events`, {
        query: { afterSeq, limit: 100 },
      });
      setEvents([...into, ...page.events]);
      setNext(page.nextAfterSeq);
      setError(undefined);
    } catch (caught) {
      setError(caught as ApiError);
    }
  };
  useEffect(() => {
    void load(0, []);
  }, [executionId, version]);
  return (
    <section aria-labelledby="history-title">
      <h2 id="history-title">History</h2>
      {error && <ErrorNote error={error} />}
      {events.length === 0 && !error && <p class="muted">No events yet.</p>}
      <ol class="timeline">
        {events.map((event) => (
          <li key={event.eventId} class={`t-${event.status}`} data-seq={event.seq}>
            <div class="t-head">
              <span class="t-seq">#{event.seq}</span>
              <strong>{event.event}</strong>
              <Badge value={event.status} />
              <span class="t-move">
                {event.fromState ?? '…'} →{' '}
                {event.toState ?? (event.status === 'rejected' ? '(stays)' : '…')}
              </span>
            </div>
            {event.reason && <p class="t-reason">{event.reason}</p>}
            <dl class="t-meta">
              <dt>Sent</dt>
              <dd>{when(event.createdAt)}</dd>
              <dt>Applied</dt>
              <dd>{when(event.appliedAt)}</dd>
              <dt>Event id</dt>
              <dd class="mono">{event.eventId}</dd>
            </dl>
            {event.payload !== undefined && event.payload !== null && (
              <details class="t-payload">
                <summary>Payload</summary>
                <JsonView value={event.payload} label={`Payload of event ${event.seq}`} />
              </details>
            )}
          </li>
        ))}
      </ol>
      {next !== undefined && (
        <button type="button" onClick={() => void load(next, events)}>
          Load later events
        </button>
      )}
    </section>
  );
}
