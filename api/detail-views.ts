import type { Static } from '@sinclair/typebox';
import type { EventRecord, ExecutionRecord } from '../store/event-store.js';
import { executionView, historyEntry } from '../store/views.js';
import { cleanMessage } from './error-view.js';
import type * as S from './schemas.js';

/**
 * What the API shows of an execution and its events: the views the client
 * library shares, plus what a person reading them needs (versions, times,
 * why an event was refused).
 */

export function executionDetail(record: ExecutionRecord): Static<typeof S.Execution> {
  return {
    ...executionView(record),
    version: record.workflowVersion,
    nextSeq: record.nextSeq,
    createdAt: record.createdAt.toISOString(),
    updatedAt: record.updatedAt.toISOString(),
  };
}

export function historyDetail(event: EventRecord): Static<typeof S.HistoryEvent> {
  return {
    ...historyEntry(event),
    // A rejection's reason is the workflow's text; a dead event's is a stored error: clean both.
    reason: event.reason ? cleanMessage(event.reason) : null,
    createdAt: event.createdAt.toISOString(),
    appliedAt: event.appliedAt ? event.appliedAt.toISOString() : null,
  };
}
