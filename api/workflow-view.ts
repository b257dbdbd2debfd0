import type { Static } from '@sinclair/typebox';
import type { WorkflowDefinition } from '../workflow/definition.js';
import type * as C from './console-schemas.js';

type WorkflowView = Static<typeof C.WorkflowList>['items'][number];

/** A schema as plain JSON: TypeBox's symbol-keyed markers dropped. */
function plainSchema(schema: unknown): Record<string, unknown> | null {
  return schema === undefined
    ? null
    : (JSON.parse(JSON.stringify(schema)) as Record<string, unknown>);
}

/**
 * A definition as the console draws it. Guards and updates are code: what
 * shows is each declared (from, event, to) pair, with whether a guard may
 * refuse it. A transition from '*' may fire in any non-final state, so it
 * shows once per such state; one without `to` keeps its state.
 */
function workflowView(definition: WorkflowDefinition): WorkflowView {
  const finals = new Set<string>(definition.finalStates);
  const open = definition.states.filter((state) => !finals.has(state));
  const transitions: WorkflowView['transitions'] = [];
  for (const [event, spec] of Object.entries(definition.events)) {
    for (const transition of spec.transitions) {
      const froms = transition.from === '*' ? open : transition.from;
      for (const from of froms) {
        transitions.push({
          from,
          event,
          to: transition.to ?? from,
          guarded: transition.guard !== undefined,
          actions: [...(transition.actions ?? [])],
        });
      }
    }
  }
  return {
    name: definition.name,
    version: definition.version,
    initialState: definition.initialState,
    states: [...definition.states],
    finalStates: [...definition.finalStates],
    events: Object.entries(definition.events).map(([name, spec]) => ({
      name,
      payloadSchema: plainSchema(spec.payload),
    })),
    transitions,
    actions: Object.entries(definition.actions).map(([name, action]) => ({
      name,
      onFailure: action.onFailure ?? null,
    })),
  };
}

/** Every definition, name asc then version desc. */
export function workflowList(definitions: readonly WorkflowDefinition[]): WorkflowView[] {
  return [...definitions]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : b.version - a.version))
    .map(workflowView);
}
