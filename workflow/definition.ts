import type { Static, TSchema } from '@sinclair/typebox';

/** The part of an execution the reducer folds over. */
export interface WorkflowState<S extends string = string, D = unknown> {
  state: S;
  data: D;
}

export interface GuardContext<S extends string, D, P> {
  state: S;
  data: D;
  payload: P;
}

/** A guard returns true to allow the transition or a reason to reject the event. */
export type Guard<S extends string, D, P> = (ctx: GuardContext<S, D, P>) => true | string;

export interface Transition<S extends string, D, P> {
  /** States the event is allowed in; '*' means any non-final state. */
  from: readonly S[] | '*';
  /** Target state; omitted means the state stays as it is. */
  to?: S;
  guard?: Guard<S, D, P>;
  /** Pure: returns the new data without touching the old. */
  update?: (data: D, payload: P) => D;
  /** Names of actions to run after the transition commits. */
  actions?: readonly string[];
}

export interface EventSpec<S extends string, D, P = unknown> {
  payload?: TSchema;
  transitions: ReadonlyArray<Transition<S, D, P>>;
}

export interface ActionContext<D = unknown> {
  /** `<eventId>:<actionName>`; pass it to external systems so a retry is recognised. */
  idempotencyKey: string;
  tenant: string;
  executionId: string;
  eventId: string;
  event: string;
  payload: unknown;
  state: string;
  data: D;
  attempt: number;
  signal: AbortSignal;
}

export type ActionHandler<D = unknown> = (ctx: ActionContext<D>) => Promise<unknown>;

export interface ActionSpec<D = unknown> {
  run: ActionHandler<D>;
  /** Event fed back into the workflow when the action is finally recorded as failed. */
  onFailure?: string;
}

export interface WorkflowDefinition<S extends string = string, D = unknown> {
  name: string;
  version: number;
  states: readonly S[];
  initialState: S;
  /** Reaching one of these marks the execution completed. */
  finalStates: readonly S[];
  input?: TSchema;
  initialData: (input: unknown) => D;
  events: Readonly<Record<string, EventSpec<S, D, never>>>;
  actions: Readonly<Record<string, ActionSpec<D>>>;
}

/**
 * The event a workflow declares under `name`, if any. Hazard: a plain
 * `events[name]` also finds what every object inherits, so an event called
 * "toString" or "constructor" would pass as declared; names come from
 * callers, so only own properties count.
 */
export function declaredEvent<S extends string, D>(
  definition: WorkflowDefinition<S, D>,
  name: string,
): EventSpec<S, D, never> | undefined {
  return Object.hasOwn(definition.events, name) ? definition.events[name] : undefined;
}

/** The action a workflow declares under `name`, if any (own properties only, as above). */
export function declaredAction<S extends string, D>(
  definition: WorkflowDefinition<S, D>,
  name: string,
): ActionSpec<D> | undefined {
  return Object.hasOwn(definition.actions, name) ? definition.actions[name] : undefined;
}

/** Declares one event with a typed payload (checked against `payload` at enqueue). */
export function defineEvent<S extends string, D, P extends TSchema>(
  payload: P,
  transitions: ReadonlyArray<Transition<S, D, Static<P>>>,
): EventSpec<S, D, never> {
  return { payload, transitions } as unknown as EventSpec<S, D, never>;
}

/** Declares an event that carries no payload. */
export function defineBareEvent<S extends string, D>(
  transitions: ReadonlyArray<Transition<S, D, Record<string, never>>>,
): EventSpec<S, D, never> {
  return { transitions } as unknown as EventSpec<S, D, never>;
}

/** Checks a definition's internal references once, when it is registered. */
export function defineWorkflow<S extends string, D>(
  definition: WorkflowDefinition<S, D>,
): WorkflowDefinition<S, D> {
  const states = new Set<string>(definition.states);
  const problems: string[] = [];
  if (!states.has(definition.initialState))
    problems.push(`initialState ${definition.initialState} is not a state`);
  for (const final of definition.finalStates) {
    if (!states.has(final)) problems.push(`final state ${final} is not a state`);
  }
  for (const [eventName, spec] of Object.entries(definition.events)) {
    for (const transition of spec.transitions) {
      const froms = transition.from === '*' ? [] : transition.from;
      for (const from of froms)
        if (!states.has(from)) problems.push(`${eventName}: from ${from} is not a state`);
      if (transition.to !== undefined && !states.has(transition.to)) {
        problems.push(`${eventName}: to ${transition.to} is not a state`);
      }
      for (const action of transition.actions ?? []) {
        if (declaredAction(definition, action) === undefined)
          problems.push(`${eventName}: action ${action} is not declared`);
      }
    }
  }
  for (const [actionName, action] of Object.entries(definition.actions)) {
    if (
      action.onFailure !== undefined &&
      declaredEvent(definition, action.onFailure) === undefined
    ) {
      problems.push(`action ${actionName}: onFailure event ${action.onFailure} is not declared`);
    }
  }
  if (problems.length > 0) {
    throw new Error(
      `workflow ${definition.name}@${definition.version} is invalid: ${problems.join('; ')}`,
    );
  }
  return definition;
}
