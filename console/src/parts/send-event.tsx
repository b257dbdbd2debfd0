import { useState } from 'preact/hooks';
import { ApiError, api, seg } from '../api';
import type { WorkflowDefinition } from '../types';
import { ErrorNote } from './common';
import { SchemaForm } from './schema-form';

/** Enqueues an event on the execution, with a payload form from the event's schema. */
export function SendEvent({
  executionId,
  workflow,
  onSent,
}: {
  executionId: string;
  workflow: WorkflowDefinition | undefined;
  onSent(seq: number): void;
}) {
  const events = workflow?.events ?? [];
  const [name, setName] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError>();
  const [sent, setSent] = useState<string>();
  const chosen = events.find((event) => event.name === name);
  const send = async (payload: unknown) => {
    if (!name) return;
    setBusy(true);
    setError(undefined);
    setSent(undefined);
    try {
      const result = await api<{ eventId: string; seq: number }>(
        'POST',
        `/v1/executions/${seg(executionId)}/events`,
        { body: payload === undefined ? { event: name } : { event: name, payload } },
      );
      setSent(`Event ${name} accepted as #${result.seq}.`);
      onSent(result.seq);
    } catch (caught) {
      setError(caught instanceof ApiError ? caught : new ApiError(0, 'CONSOLE', 'not sent'));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section aria-labelledby="send-title">
      <h2 id="send-title">Send an event</h2>
      <div class="field">
        <label for="send-event">Event</label>
        {events.length > 0 ? (
          <select id="send-event" value={name} onChange={(e) => setName(e.currentTarget.value)}>
            <option value="">choose…</option>
            {events.map((event) => (
              <option key={event.name}>{event.name}</option>
            ))}
          </select>
        ) : (
          <input id="send-event" value={name} onInput={(e) => setName(e.currentTarget.value)} />
        )}
      </div>
      {name && (
        <SchemaForm
          key={name}
          id="send-payload"
          // Without the workflow's definition, the payload is free JSON.
          schema={workflow ? chosen?.payloadSchema : {}}
          busy={busy}
          onSubmit={(payload) => void send(payload)}
        />
      )}
      {error && <ErrorNote error={error} />}
      {sent && (
        <p class="ok" role="status">
          {sent}
        </p>
      )}
    </section>
  );
}
