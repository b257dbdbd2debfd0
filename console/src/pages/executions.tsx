import { useState } from 'preact/hooks';
import { Link, useLocation, useSearch } from 'wouter-preact';
import { api, seg } from '../api';
import { when } from '../format';
import { useLoad, useWorkflows } from '../load';
import { Badge, ErrorNote, Loading } from '../parts/common';
import { type Column, Table } from '../parts/table';
import type { Counts, ExecutionSummary, Page, WorkflowDefinition } from '../types';

const EXECUTION_COLUMNS: Column<ExecutionSummary>[] = [
  {
    label: 'Execution',
    cell: (item) => <Link href={`/executions/${seg(item.executionId)}`}>{item.executionId}</Link>,
  },
  {
    label: 'Workflow',
    cell: (item) => (
      <>
        {item.workflow}
        {item.version !== undefined && <span class="muted"> v{item.version}</span>}
      </>
    ),
  },
  { label: 'State', cell: (item) => item.state },
  {
    label: 'Status',
    cell: (item) => (
      <>
        <Badge value={item.status} />
        {item.blocked && item.status !== 'blocked' && (
          <span class="badge b-attention">needs attention</span>
        )}
      </>
    ),
  },
  { label: 'Created', cell: (item) => when(item.createdAt) },
  { label: 'Updated', cell: (item) => when(item.updatedAt) },
];

const FILTERS = ['workflow', 'state', 'status', 'blocked', 'createdAfter', 'createdBefore', 'q'];

function filtersOf(search: string): Record<string, string> {
  const params = new URLSearchParams(search);
  const filters: Record<string, string> = {};
  for (const name of FILTERS) {
    const value = params.get(name);
    if (value) filters[name] = value;
  }
  return filters;
}

/** datetime-local gives local wall time; the API wants an instant. */
const toInstant = (local: string) => (local ? new Date(local).toISOString() : '');
const toLocal = (iso: string | undefined) => {
  if (!iso) return '';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '';
  return new Date(date.getTime() - date.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
};

/** A select's option: its value and its text. */
type Choice = readonly [value: string, text: string];
const ANY: Choice = ['', 'any'];
const same = (values: string[]): Choice[] => values.map((value) => [value, value]);

/** One filter: a select when it has choices, else an input of `type`. */
function Filter(props: {
  id: string;
  label: string;
  value: string;
  onChange(value: string): void;
  choices?: Choice[];
  type?: 'search' | 'datetime-local';
}) {
  const { id, value, onChange } = props;
  return (
    <div class="field">
      <label for={id}>{props.label}</label>
      {props.choices ? (
        <select id={id} value={value} onChange={(e) => onChange(e.currentTarget.value)}>
          {props.choices.map(([choice, text]) => (
            <option key={choice} value={choice}>
              {text}
            </option>
          ))}
        </select>
      ) : (
        <input
          id={id}
          type={props.type}
          value={value}
          onInput={(e) => onChange(e.currentTarget.value)}
        />
      )}
    </div>
  );
}

function FilterForm({
  filters,
  workflows,
  onApply,
}: {
  filters: Record<string, string>;
  workflows: WorkflowDefinition[];
  onApply(next: Record<string, string>): void;
}) {
  const [draft, setDraft] = useState(filters);
  const set = (name: string, value: string) => setDraft((all) => ({ ...all, [name]: value }));
  const names = [...new Set(workflows.map((w) => w.name))];
  const states = [
    ...new Set(
      workflows
        .filter((w) => !draft.workflow || w.name === draft.workflow)
        .flatMap((w) => w.states),
    ),
  ];
  const select = (id: string, name: string, label: string, choices: Choice[]) => (
    <Filter
      id={id}
      label={label}
      value={draft[name] ?? ''}
      choices={choices}
      onChange={(value) => set(name, value)}
    />
  );
  return (
    <form
      class="filters"
      aria-label="Filter executions"
      onSubmit={(event) => {
        event.preventDefault();
        onApply(draft);
      }}
    >
      <Filter
        id="f-q"
        label="Execution id starts with"
        type="search"
        value={draft.q ?? ''}
        onChange={(value) => set('q', value)}
      />
      {select('f-workflow', 'workflow', 'Workflow', [ANY, ...same(names)])}
      {select('f-state', 'state', 'State', [ANY, ...same(states)])}
      {select('f-status', 'status', 'Status', [ANY, ...same(['active', 'completed', 'blocked'])])}
      {select('f-blocked', 'blocked', 'Needs attention', [
        ['', 'either'],
        ['true', 'yes'],
        ['false', 'no'],
      ])}
      <Filter
        id="f-after"
        label="Created from"
        type="datetime-local"
        value={toLocal(draft.createdAfter)}
        onChange={(value) => set('createdAfter', toInstant(value))}
      />
      <Filter
        id="f-before"
        label="Created before"
        type="datetime-local"
        value={toLocal(draft.createdBefore)}
        onChange={(value) => set('createdBefore', toInstant(value))}
      />
      <div class="actions">
        <button type="submit">Apply filters</button>
        <button type="button" class="quiet" onClick={() => onApply({})}>
          Clear
        </button>
      </div>
    </form>
  );
}

function CountsPanel({
  counts,
  href,
}: {
  counts: Counts;
  href(extra: Record<string, string>): string;
}) {
  return (
    <section aria-labelledby="counts-title" class="counts">
      <h2 id="counts-title">Counts</h2>
      <ul class="chips">
        {counts.byStatus.map((row) => (
          <li key={row.status}>
            <Link class="chip" href={href({ status: row.status })}>
              <Badge value={row.status} /> {row.count}
            </Link>
          </li>
        ))}
        <li>
          <Link class="chip" href={href({ blocked: 'true' })}>
            <span class="badge b-attention">needs attention</span> {counts.blocked}
          </Link>
        </li>
      </ul>
      {counts.byState.length > 0 && (
        <div class="scroll">
          <Table
            caption="Executions by workflow and state"
            columns={[
              { label: 'Workflow', cell: (row) => row.workflow },
              {
                label: 'State',
                cell: (row) => (
                  <Link href={href({ workflow: row.workflow, state: row.state })}>{row.state}</Link>
                ),
              },
              { label: 'Executions', num: true, cell: (row) => row.count },
            ]}
            items={counts.byState}
            rowKey={(row) => `${row.workflow}/${row.state}`}
          />
          {counts.truncated && <p class="muted">Only the largest groups are shown.</p>}
        </div>
      )}
    </section>
  );
}

function OpenById() {
  const [, navigate] = useLocation();
  const [id, setId] = useState('');
  return (
    <form
      class="inline"
      aria-label="Open an execution by id"
      onSubmit={(event) => {
        event.preventDefault();
        if (id.trim()) navigate(`/executions/${seg(id.trim())}`);
      }}
    >
      <label for="open-id">Open execution</label>
      <input
        id="open-id"
        value={id}
        placeholder="exact id"
        onInput={(e) => setId(e.currentTarget.value)}
      />
      <button type="submit">Open</button>
    </form>
  );
}

/** Executions: filters, counts by state, id search and cursor pages. */
export function ExecutionsPage() {
  const search = useSearch();
  const [, navigate] = useLocation();
  const filters = filtersOf(search);
  const key = JSON.stringify(filters);
  // Cursors of the pages before this one, for "Previous"; reset when the filters change.
  const [cursors, setCursors] = useState<{ key: string; stack: string[] }>({ key, stack: [] });
  const stack = cursors.key === key ? cursors.stack : [];
  const cursor = stack.at(-1);
  const href = (extra: Record<string, string>) => {
    const params = new URLSearchParams({ ...filters, ...extra }).toString();
    return params ? `/?${params}` : '/';
  };
  const workflows = useWorkflows();
  const list = useLoad(
    () =>
      api<Page<ExecutionSummary>>('GET', '/v1/executions', {
        query: { ...filters, cursor, limit: 25 },
      }),
    [key, cursor],
  );
  const counts = useLoad(
    () => api<Counts>('GET', '/v1/executions/counts', { query: filters }),
    [key],
  );
  return (
    <>
      <h1 tabIndex={-1}>Executions</h1>
      <OpenById />
      <FilterForm
        key={key}
        filters={filters}
        workflows={workflows.data?.items ?? []}
        onApply={(next) => {
          const params = new URLSearchParams(
            Object.entries(next).filter(([, value]) => value !== ''),
          ).toString();
          navigate(params ? `/?${params}` : '/');
        }}
      />
      {counts.data && <CountsPanel counts={counts.data} href={href} />}
      <section aria-labelledby="list-title">
        <h2 id="list-title">
          List{' '}
          <button
            type="button"
            class="quiet small"
            onClick={() => {
              list.reload();
              counts.reload();
            }}
          >
            Refresh
          </button>
        </h2>
        <Loading loading={list.loading} />
        {list.error && <ErrorNote error={list.error} />}
        {list.data && list.data.items.length === 0 && <p>No executions match.</p>}
        {list.data && list.data.items.length > 0 && (
          <div class="scroll">
            <Table
              list
              caption="Executions, newest first"
              columns={EXECUTION_COLUMNS}
              items={list.data.items}
              rowKey={(item) => item.executionId}
            />
          </div>
        )}
        <nav class="pager" aria-label="Pages">
          <button
            type="button"
            disabled={stack.length === 0}
            onClick={() => setCursors({ key, stack: stack.slice(0, -1) })}
          >
            Previous page
          </button>
          <button
            type="button"
            disabled={!list.data?.nextCursor}
            onClick={() => setCursors({ key, stack: [...stack, list.data!.nextCursor!] })}
          >
            Next page
          </button>
        </nav>
      </section>
    </>
  );
}
