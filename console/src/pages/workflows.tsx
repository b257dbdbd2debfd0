import { useWorkflows } from '../load';
import { ErrorNote, Loading } from '../parts/common';
import { StateDiagram } from '../parts/diagram';
import { fieldsOf } from '../parts/schema-fields';
import { Table } from '../parts/table';
import type { JsonSchema, WorkflowDefinition } from '../types';

function payloadText(schema: JsonSchema | null | undefined): string {
  const fields = fieldsOf(schema);
  if (fields.length === 0) return '—';
  return fields.map((f) => `${f.name || 'value'}${f.required ? '' : '?'}: ${f.kind}`).join(', ');
}

function Definition({ workflow }: { workflow: WorkflowDefinition }) {
  const title = `wf-${workflow.name}-${workflow.version}`.replace(/[^A-Za-z0-9_-]/g, '_');
  const guarded = new Set(workflow.transitions.filter((t) => t.guarded).map((t) => t.event));
  return (
    <section aria-labelledby={title} class="workflow">
      <h2 id={title}>
        {workflow.name} <span class="muted">v{workflow.version}</span>
      </h2>
      <div class="scroll">
        <StateDiagram workflow={workflow} />
      </div>
      <div class="scroll">
        <Table
          caption={<>Events of {workflow.name}</>}
          columns={[
            {
              label: 'Event',
              cell: (event) => (
                <>
                  {event.name}
                  {guarded.has(event.name) && <span class="muted"> (guarded)</span>}
                </>
              ),
            },
            { label: 'Payload', cell: (event) => payloadText(event.payloadSchema) },
            {
              label: 'Moves',
              cell: (event) =>
                workflow.transitions
                  .filter((t) => t.event === event.name)
                  .map((t) => (t.from === t.to ? `${t.from} ↻` : `${t.from} → ${t.to}`))
                  .join(', '),
            },
          ]}
          items={workflow.events}
          rowKey={(event) => event.name}
        />
      </div>
    </section>
  );
}

/** Each loaded workflow definition: its states and transitions as a diagram, its events. */
export function WorkflowsPage() {
  const workflows = useWorkflows();
  return (
    <>
      <h1 tabIndex={-1}>Workflows</h1>
      <Loading loading={workflows.loading} />
      {workflows.error && <ErrorNote error={workflows.error} />}
      {workflows.data?.items.map((workflow) => (
        <Definition key={`${workflow.name}@${workflow.version}`} workflow={workflow} />
      ))}
    </>
  );
}
