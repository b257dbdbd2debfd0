import { useState } from 'preact/hooks';
import type { JsonSchema } from '../types';
import { FieldError, fieldsOf, payloadOf } from './schema-fields';

interface Props {
  /** Unique per form on the page: the controls' ids start with it. */
  id: string;
  schema: JsonSchema | null | undefined;
  busy: boolean;
  onSubmit(payload: unknown): void;
}

/** The controls of an event's payload, generated from its JSON schema. */
export function SchemaForm({ id, schema, busy, onSubmit }: Props) {
  const fields = fieldsOf(schema);
  const [texts, setTexts] = useState<Record<string, string>>({});
  const [problem, setProblem] = useState<string>();
  const set = (name: string, value: string) => setTexts((all) => ({ ...all, [name]: value }));
  const submit = (event: Event) => {
    event.preventDefault();
    try {
      setProblem(undefined);
      onSubmit(payloadOf(fields, texts));
    } catch (error) {
      setProblem(error instanceof FieldError ? error.message : 'the payload is not valid');
    }
  };
  return (
    <form
      class="schema-form"
      onSubmit={submit}
      aria-describedby={problem ? `${id}-problem` : undefined}
    >
      {fields.length === 0 && <p class="muted">This event carries no payload.</p>}
      {fields.map((field) => {
        const controlId = `${id}-${field.name || 'payload'}`;
        const label = `${field.name || 'payload'}${field.required ? ' (required)' : ''}`;
        const value = texts[field.name] ?? '';
        return (
          <div class="field" key={controlId}>
            <label for={controlId}>{label}</label>
            {field.kind === 'choice' ? (
              <select
                id={controlId}
                value={value}
                onChange={(e) => set(field.name, e.currentTarget.value)}
              >
                <option value="">—</option>
                {field.choices!.map((choice) => (
                  <option key={choice} value={choice}>
                    {choice}
                  </option>
                ))}
              </select>
            ) : field.kind === 'boolean' ? (
              <input
                id={controlId}
                type="checkbox"
                checked={value === 'true'}
                onChange={(e) => set(field.name, String(e.currentTarget.checked))}
              />
            ) : field.kind === 'json' ? (
              <textarea
                id={controlId}
                rows={3}
                value={value}
                placeholder="JSON"
                onInput={(e) => set(field.name, e.currentTarget.value)}
              />
            ) : (
              <input
                id={controlId}
                type={field.kind === 'text' ? 'text' : 'number'}
                step={field.kind === 'integer' ? 1 : 'any'}
                value={value}
                required={field.required && field.kind === 'text'}
                onInput={(e) => set(field.name, e.currentTarget.value)}
              />
            )}
            {field.description && <small class="muted">{field.description}</small>}
          </div>
        );
      })}
      {problem && (
        <p id={`${id}-problem`} class="error" role="alert">
          {problem}
        </p>
      )}
      <button type="submit" disabled={busy}>
        {busy ? 'Sending…' : 'Send event'}
      </button>
    </form>
  );
}
