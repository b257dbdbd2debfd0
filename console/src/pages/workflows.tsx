import { api } from '../api';
import { useLoad } from '../load';
import { ErrorNote, Loading } from '../parts/common';
import { StateDiagram } from '../parts/diagram';
import { fieldsOf } from '../parts/schema-fields';
import type { Page, WorkflowDefinition } from '../types';

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
        <table>
          <caption class="sr-only">Events of {workflow.name}</caption>
          <thead>
            <tr>
              <th scope="col">Event</th>
              <th scope="col">Payload</th>
              <th scope="col">Moves</th>
            </tr>
          </thead>
          <tbody>
            {workflow.events.map((event) => {
              const fields = fieldsOf(event.payloadSchema);
              const moves = workflow.transitions.filter((t) => t.event === event.name);
              return (
                <tr key={event.name}>
                  <td>
                    {event.name}
                    {guarded.has(event.name) && <span class="muted"> (guarded)</span>}
                  </td>
                  <td>
                    {fields.length === 0
                      ? '—'
                      : fields
                          .map((f) => `${f.name || 'value'}${f.required ? '' : '?'}: ${f.kind}`)
                          .join(', ')}
                  </td>
                  <td>
                    {moves
                      .map((t) => (t.from === t.to ? `${t.from} ↻` : `${t.from} → ${t.to}`))
                      .join(', ')}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </section>
  );
}

/** Each loaded workflow definition: its states and transitions as a diagram, its events. */
export function WorkflowsPage() {
  const workflows = useLoad(() => api<Page<WorkflowDefinition>>('GET', '/v1/workflows'), []);
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
