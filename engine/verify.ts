import { isDeepStrictEqual } from 'node:util';
import { NotFoundError } from '../core/errors.js';
import type { HistoryStore, InspectionStore } from '../store/event-store.js';
import type { WorkflowState } from '../workflow/definition.js';
import { applyEvent } from '../workflow/reducer.js';
import type { WorkflowRegistry } from '../workflow/registry.js';

export interface VerifyReport {
  executionId: string;
  ok: boolean;
  eventsChecked: number;
  snapshotsChecked: number;
  problems: string[];
}

/**
 * Recomputes an execution from its whole log (from the initial snapshot at
 * seq 0) and compares every cache: the state on the execution row, each
 * snapshot, and the from/to states recorded on each event.
 */
export async function verifyExecution(
  store: HistoryStore & Pick<InspectionStore, 'snapshots'>,
  registry: WorkflowRegistry,
  tenant: string,
  executionId: string,
): Promise<VerifyReport> {
  const execution = await store.getExecution(tenant, executionId);
  if (!execution) throw new NotFoundError(`execution ${executionId}`);
  const definition = registry.get(execution.workflowName, execution.workflowVersion);
  const snapshots = await store.snapshots(tenant, executionId);
  const initial = snapshots.find((s) => s.seq === 0);
  const problems: string[] = [];
  if (!initial) problems.push('initial snapshot (seq 0) is missing');
  let current: WorkflowState = {
    state: initial?.state ?? definition.initialState,
    data: initial?.data,
  };
  const bySeq = new Map(snapshots.map((s) => [s.seq, s]));
  let eventsChecked = 0;
  let afterSeq = 0;
  for (;;) {
    const page = await store.history(tenant, executionId, { afterSeq, limit: 1000 });
    for (const event of page) {
      afterSeq = event.seq;
      if (event.seq > execution.appliedSeq) continue;
      eventsChecked += 1;
      const step = applyEvent(definition, current, { name: event.name, payload: event.payload });
      const expectedStatus = step.kind === 'applied' ? 'applied' : 'rejected';
      if (event.status !== expectedStatus)
        problems.push(`seq ${event.seq}: recorded ${event.status}, log says ${expectedStatus}`);
      if (step.kind === 'applied') {
        if (event.toState !== step.toState)
          problems.push(
            `seq ${event.seq}: recorded to_state ${event.toState}, log says ${step.toState}`,
          );
        current = { state: step.toState, data: step.data };
      }
      const snapshot = bySeq.get(event.seq);
      if (
        snapshot &&
        (snapshot.state !== current.state || !isDeepStrictEqual(snapshot.data, current.data))
      ) {
        problems.push(`snapshot at seq ${event.seq} differs from the log`);
      }
    }
    if (page.length < 1000) break;
  }
  if (execution.state !== current.state || !isDeepStrictEqual(execution.data, current.data)) {
    problems.push(
      `stored state ${execution.state} differs from the log's ${current.state} (or its data does)`,
    );
  }
  return {
    executionId,
    ok: problems.length === 0,
    eventsChecked,
    snapshotsChecked: snapshots.length,
    problems,
  };
}
