import type { EventRecord, EventStatus, ExecutionRecord, ExecutionStatus } from './event-store.js';

/** Row shapes as PostgreSQL returns them (bigint columns arrive as strings). */
export interface ExecutionRow {
  tenant: string;
  execution_id: string;
  workflow_name: string;
  workflow_version: number;
  current_state: string;
  data: unknown;
  status: string;
  next_seq: string | number;
  applied_seq: string | number;
  created_at: Date;
  updated_at: Date;
}

export interface EventRow {
  tenant: string;
  event_id: string;
  execution_id: string;
  seq: string | number;
  event_name: string;
  payload: unknown;
  user_id: string | null;
  idempotency_key: string | null;
  from_state: string | null;
  to_state: string | null;
  status: string;
  reason: string | null;
  created_at: Date;
  applied_at: Date | null;
  published_at: Date | null;
}

export function toExecution(row: ExecutionRow): ExecutionRecord {
  return {
    tenant: row.tenant,
    executionId: row.execution_id,
    workflowName: row.workflow_name,
    workflowVersion: row.workflow_version,
    state: row.current_state,
    data: row.data,
    status: row.status as ExecutionStatus,
    nextSeq: Number(row.next_seq),
    appliedSeq: Number(row.applied_seq),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function toEvent(row: EventRow): EventRecord {
  return {
    tenant: row.tenant,
    eventId: row.event_id,
    executionId: row.execution_id,
    seq: Number(row.seq),
    name: row.event_name,
    payload: row.payload,
    userId: row.user_id,
    idempotencyKey: row.idempotency_key,
    fromState: row.from_state,
    toState: row.to_state,
    status: row.status as EventStatus,
    reason: row.reason,
    createdAt: row.created_at,
    appliedAt: row.applied_at,
    publishedAt: row.published_at,
  };
}

/** The SQLSTATE of a PostgreSQL error (its code), read rather than its text. */
export function sqlState(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

/** PostgreSQL's unique_violation. */
export function isUniqueViolation(error: unknown): boolean {
  return sqlState(error) === '23505';
}

/** PostgreSQL's deadlock_detected and serialization_failure: contention, not a fault. */
export function isWriteConflict(error: unknown): boolean {
  const state = sqlState(error);
  return state === '40P01' || state === '40001';
}

const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  '57P01',
  '57P02',
  '57P03',
  '08006',
  '08001',
  '08003',
]);

/** Connection-level failures: the database is down or restarting, not a bad query. */
export function isConnectionFailure(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const code = (error as { code?: string }).code;
  if (code !== undefined && UNAVAILABLE_CODES.has(code)) return true;
  const name = (error as { name?: string }).name;
  return name === 'KnexTimeoutError';
}
