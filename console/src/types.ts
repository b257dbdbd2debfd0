/** The API's answers, as the console reads them (see /openapi.json). */

export type ExecutionStatus = 'active' | 'completed' | 'blocked';
export type EventStatus = 'pending' | 'applied' | 'rejected' | 'dead';

export interface Execution {
  executionId: string;
  workflow: string;
  version?: number;
  state: string;
  data: unknown;
  status: ExecutionStatus;
  appliedSeq: number;
  nextSeq?: number;
  createdAt?: string;
  updatedAt?: string;
}

export interface ExecutionSummary {
  executionId: string;
  workflow: string;
  version?: number;
  state: string;
  status: ExecutionStatus;
  blocked?: boolean;
  appliedSeq?: number;
  nextSeq?: number;
  createdAt?: string;
  updatedAt?: string;
}

export interface Counts {
  byState: Array<{ workflow: string; state: string; count: number }>;
  byStatus: Array<{ status: ExecutionStatus; count: number }>;
  blocked: number;
  truncated: boolean;
}

export interface ActionRecord {
  eventId: string;
  seq: number;
  event: string;
  action: string;
  status: 'pending' | 'succeeded' | 'failed';
  attempts: number;
  result: unknown;
  error: string | null;
  errorCode: string | null;
  createdAt?: string;
  updatedAt?: string;
}

export interface Snapshot {
  seq: number;
  state: string;
  data: unknown;
  createdAt?: string;
}

export interface Page<T> {
  items: T[];
  nextCursor?: string | null;
}

export interface StreamHealth {
  backlog: { lag: number | null; pending: number | null; readOk: boolean; errorCode?: string };
  consumers: Array<{ name: string; pending: number; idleMs: number }>;
  applied: Array<{ at: string; count: number; rejected: number }>;
  bucketSeconds: number;
}

export interface RetryResult {
  eventId: string;
  status: 'retried' | 'error';
  executionId?: string;
  httpStatus?: number;
  error?: { code: string; message: string };
}

export interface HistoryEvent {
  eventId: string;
  seq: number;
  event: string;
  payload: unknown;
  status: EventStatus;
  fromState: string | null;
  toState: string | null;
  /** Rejection reason or dead-letter error, cleaned. */
  reason?: string | null;
  appliedAt?: string | null;
  createdAt?: string | null;
}

export interface History {
  events: HistoryEvent[];
  nextAfterSeq?: number;
}

export interface DeadLetter {
  eventId: string;
  executionId: string;
  seq: number;
  event: string;
  status: EventStatus;
  error: string | null;
  errorCode: string | null;
}

export interface WorkflowEvent {
  name: string;
  payloadSchema?: JsonSchema | null;
}

export interface Transition {
  event: string;
  from: string;
  to: string;
  guarded?: boolean;
  actions?: string[];
}

export interface WorkflowDefinition {
  name: string;
  version: number;
  states: string[];
  initialState?: string;
  finalStates?: string[];
  events: WorkflowEvent[];
  transitions: Transition[];
  actions?: Array<{ name: string; onFailure?: string | null }>;
}

export interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  enum?: unknown[];
  const?: unknown;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  description?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  format?: string;
  default?: unknown;
}
