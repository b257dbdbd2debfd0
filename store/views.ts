import type { EventRecord, ExecutionRecord } from './event-store.js';

/**
 * The shapes flowpool hands to applications, shared by the client library and
 * the HTTP API so both speak the same language.
 */

export interface StartedExecution<D = unknown> {
  executionId: string;
  workflow: string;
  state: string;
  data: D;
}

export interface ExecutionView<D = unknown> extends StartedExecution<D> {
  status: ExecutionRecord['status'];
  /** The seq of the last event applied (or rejected); events after it are still pending. */
  appliedSeq: number;
}

export interface HistoryEntry {
  eventId: string;
  seq: number;
  event: string;
  payload: unknown;
  status: EventRecord['status'];
  fromState: string | null;
  toState: string | null;
}

export interface EnqueuedEventView {
  eventId: string;
  seq: number;
}

export function startedView<D = unknown>(record: ExecutionRecord): StartedExecution<D> {
  return {
    executionId: record.executionId,
    workflow: record.workflowName,
    state: record.state,
    data: record.data as D,
  };
}

export function executionView<D = unknown>(record: ExecutionRecord): ExecutionView<D> {
  return {
    ...startedView<D>(record),
    status: record.status,
    appliedSeq: record.appliedSeq,
  };
}

export function historyEntry(record: EventRecord): HistoryEntry {
  return {
    eventId: record.eventId,
    seq: record.seq,
    event: record.name,
    payload: record.payload,
    status: record.status,
    fromState: record.fromState,
    toState: record.toState,
  };
}
