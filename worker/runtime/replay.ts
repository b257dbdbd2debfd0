import { WorkflowCodeError } from '../../core/errors.js';
import type { EventRecord, ExecutionRecord, ReplayBase } from '../../store/event-store.js';
import type { WorkflowDefinition, WorkflowState } from '../../workflow/definition.js';
import { applyEvent, fold, type Step } from '../../workflow/reducer.js';

export interface ReplayedState extends WorkflowState {
  /** The seq the state is valid at. */
  seq: number;
  /** Events read from the log to rebuild it (after the snapshot). */
  eventsRead: number;
}

/** Only decided events take part in a fold; pending and dead ones have not happened. */
function decidedEvents(events: readonly EventRecord[]): EventRecord[] {
  return events.filter((event) => event.status === 'applied' || event.status === 'rejected');
}

/**
 * Rebuilds an execution's state at applied_seq from the latest snapshot and
 * the events after it (a replay base already read): cost grows with events
 * since the snapshot, not with the whole history.
 */
export function replayFrom(
  definition: WorkflowDefinition,
  execution: ExecutionRecord,
  base: ReplayBase,
): ReplayedState {
  if (!base.snapshot) throw new Error(`execution ${execution.executionId} has no initial snapshot`);
  const start: WorkflowState = { state: base.snapshot.state, data: base.snapshot.data };
  const folded = guarded('replay', () =>
    fold(
      definition,
      start,
      decidedEvents(base.events).map((e) => ({ name: e.name, payload: e.payload })),
    ),
  );
  return {
    ...folded,
    seq: execution.appliedSeq,
    eventsRead: base.events.length,
  };
}

/** Folds further events (read after those `replayed` was built from) into it. */
export function replayMore(
  definition: WorkflowDefinition,
  replayed: ReplayedState,
  events: readonly EventRecord[],
): ReplayedState {
  const folded = guarded('replay', () =>
    fold(
      definition,
      { state: replayed.state, data: replayed.data },
      decidedEvents(events).map((e) => ({ name: e.name, payload: e.payload })),
    ),
  );
  return { ...replayed, ...folded, eventsRead: replayed.eventsRead + events.length };
}

/**
 * Runs workflow code, turning what it throws into a WorkflowCodeError that
 * names the event being applied, when there is one.
 */
export function guarded<T>(where: string, run: () => T, eventId?: string): T {
  try {
    return run();
  } catch (error) {
    throw new WorkflowCodeError(where, error, eventId);
  }
}

/** Folds one stored event into the state; what its workflow code throws names the event. */
export function applyStoredEvent(
  definition: WorkflowDefinition,
  current: WorkflowState,
  event: EventRecord,
): Step {
  return guarded(
    `event ${event.name} (seq ${event.seq})`,
    () => applyEvent(definition, current, { name: event.name, payload: event.payload }),
    event.eventId,
  );
}
