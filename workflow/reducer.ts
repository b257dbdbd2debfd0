import { Value } from '@sinclair/typebox/value';
import {
  declaredEvent,
  type Transition,
  type WorkflowDefinition,
  type WorkflowState,
} from './definition.js';

export interface IncomingEvent {
  name: string;
  payload: unknown;
}

/** The outcome of applying one event to a state: what the log records. */
export type Step =
  | {
      kind: 'applied';
      fromState: string;
      toState: string;
      data: unknown;
      actions: readonly string[];
    }
  | { kind: 'rejected'; fromState: string; reason: string };

function allowedIn(
  transition: Transition<string, unknown, unknown>,
  state: string,
  finals: readonly string[],
): boolean {
  if (transition.from === '*') return !finals.includes(state);
  return transition.from.includes(state);
}

/**
 * The workflow reducer: pure and deterministic, so replaying the log always
 * gives the same answer. An event that is not allowed is rejected with a
 * reason and changes nothing.
 */
export function applyEvent(
  definition: WorkflowDefinition,
  current: WorkflowState,
  event: IncomingEvent,
): Step {
  const fromState = current.state;
  const spec = declaredEvent(definition, event.name);
  if (spec === undefined)
    return { kind: 'rejected', fromState, reason: `unknown event ${event.name}` };
  if (spec.payload !== undefined && !Value.Check(spec.payload, event.payload)) {
    return {
      kind: 'rejected',
      fromState,
      reason: `payload does not match the schema of ${event.name}`,
    };
  }
  const transitions = spec.transitions as ReadonlyArray<Transition<string, unknown, unknown>>;
  const candidates = transitions.filter((t) => allowedIn(t, fromState, definition.finalStates));
  if (candidates.length === 0) {
    return {
      kind: 'rejected',
      fromState,
      reason: `event ${event.name} is not allowed in state ${fromState}`,
    };
  }
  let guardReason: string | undefined;
  for (const transition of candidates) {
    const verdict =
      transition.guard?.({ state: fromState, data: current.data, payload: event.payload }) ?? true;
    if (verdict !== true) {
      guardReason ??= verdict;
      continue;
    }
    return {
      kind: 'applied',
      fromState,
      toState: transition.to ?? fromState,
      data: transition.update ? transition.update(current.data, event.payload) : current.data,
      actions: transition.actions ?? [],
    };
  }
  return { kind: 'rejected', fromState, reason: guardReason ?? `event ${event.name} was refused` };
}

/** The state after a fresh execution's `initialData(input)`. */
export function initialState(definition: WorkflowDefinition, input: unknown): WorkflowState {
  return { state: definition.initialState, data: definition.initialData(input) };
}

/** Folds events over a starting state; rejected events change nothing. */
export function fold(
  definition: WorkflowDefinition,
  start: WorkflowState,
  events: Iterable<IncomingEvent>,
): WorkflowState {
  let current = start;
  for (const event of events) {
    const step = applyEvent(definition, current, event);
    if (step.kind === 'applied') current = { state: step.toState, data: step.data };
  }
  return current;
}
