import type { ApiError } from '../api';

/** What went wrong, by the API's error code; NOT_FOUND says what was looked for. */
export function ErrorNote({ error, what }: { error: ApiError; what?: string }) {
  const text =
    error.code === 'NOT_FOUND' && what
      ? `${what} was not found.`
      : error.code === 'RATE_LIMITED' || error.code === 'TOO_MANY_IN_FLIGHT'
        ? 'The API asks us to slow down; try again in a moment.'
        : error.status === 0
          ? 'The API could not be reached.'
          : `${error.message} (${error.code})`;
  return (
    <p class="error" role="alert">
      {text}
    </p>
  );
}

export function Badge({ value }: { value: string }) {
  return <span class={`badge b-${value}`}>{value}</span>;
}

export function Loading({ loading }: { loading: boolean }) {
  return loading ? (
    <p class="muted" aria-live="polite">
      Loading…
    </p>
  ) : null;
}
