import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, api } from './api';
import type { Page, WorkflowDefinition } from './types';

export interface Loaded<T> {
  data: T | undefined;
  error: ApiError | undefined;
  loading: boolean;
  reload(): void;
}

/** Runs load() when deps change (and on reload()); a stale answer never overwrites a newer one. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: ApiError; loading: boolean }>({
    loading: true,
  });
  const [tick, setTick] = useState(0);
  const latest = useRef(0);
  useEffect(() => {
    const call = ++latest.current;
    setState((previous) => ({ ...previous, loading: true }));
    load().then(
      (data) => {
        if (call === latest.current) setState({ data, loading: false });
      },
      (error: unknown) => {
        if (call !== latest.current) return;
        const known =
          error instanceof ApiError ? error : new ApiError(0, 'CONSOLE', 'something went wrong');
        setState({ error: known, loading: false });
      },
    );
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((n) => n + 1), []);
  return { data: state.data, error: state.error, loading: state.loading, reload };
}

/** Calls fn every ms milliseconds while the page is shown. */
export function useEvery(ms: number, fn: () => void): void {
  const saved = useRef(fn);
  saved.current = fn;
  useEffect(() => {
    const timer = window.setInterval(() => saved.current(), ms);
    return () => window.clearInterval(timer);
  }, [ms]);
}

/** The workflow definitions the API has loaded (GET /v1/workflows), read when the page is shown. */
export function useWorkflows(): Loaded<Page<WorkflowDefinition>> {
  return useLoad(() => api<Page<WorkflowDefinition>>('GET', '/v1/workflows'), []);
}
