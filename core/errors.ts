/**
 * Every error flowpool raises on purpose carries a stable `code`; callers
 * branch on the code (or the class), never on the message text.
 */
export type ErrorCode =
  | 'BAD_INPUT'
  | 'CONFIG_INVALID'
  | 'NOT_FOUND'
  | 'EXECUTION_EXISTS'
  | 'IDEMPOTENCY_CONFLICT'
  | 'UNKNOWN_WORKFLOW'
  | 'LOCK_BUSY'
  | 'FENCED'
  | 'ACTION_FAILED'
  | 'ACTION_TIMEOUT'
  | 'POISON_NOTICE'
  | 'UNAVAILABLE'
  | 'NOT_DEAD'
  | 'WORKFLOW_CODE';

export class FlowpoolError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Input from a caller was malformed; `field` names what is wrong. */
export class BadInputError extends FlowpoolError {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super('BAD_INPUT', `${field}: ${message}`);
  }
}

export class ConfigError extends FlowpoolError {
  constructor(
    readonly variable: string,
    expected: string,
  ) {
    super('CONFIG_INVALID', `${variable}: ${expected}`);
  }
}

export class NotFoundError extends FlowpoolError {
  constructor(what: string) {
    super('NOT_FOUND', `${what} not found`);
  }
}

export class ConflictError extends FlowpoolError {
  constructor(code: 'EXECUTION_EXISTS' | 'IDEMPOTENCY_CONFLICT', message: string) {
    super(code, message);
  }
}

export class UnknownWorkflowError extends FlowpoolError {
  constructor(name: string, version?: number) {
    super(
      'UNKNOWN_WORKFLOW',
      `workflow ${name}${version === undefined ? '' : `@${version}`} is not registered`,
    );
  }
}

/** Another holder has the execution's lock; try again shortly (not a failure). */
export class LockBusyError extends FlowpoolError {
  constructor(resource: string) {
    super('LOCK_BUSY', `lock ${resource} is held elsewhere`);
  }
}

/** The conditional update of applied_seq found another writer had moved on. */
export class FencedError extends FlowpoolError {
  constructor(executionId: string, expectedSeq: number) {
    super(
      'FENCED',
      `execution ${executionId} moved past applied_seq ${expectedSeq}; this write is stale`,
    );
  }
}

export class ActionFailedError extends FlowpoolError {
  constructor(
    readonly actionKey: string,
    cause: unknown,
  ) {
    super('ACTION_FAILED', `action ${actionKey} failed: ${describeError(cause)}`, { cause });
  }
}

/** An action ran past its timeout; it was abandoned and counts as a failed attempt. */
export class ActionTimeoutError extends FlowpoolError {
  constructor(
    readonly actionKey: string,
    readonly timeoutMs: number,
  ) {
    super('ACTION_TIMEOUT', `action ${actionKey} timed out after ${timeoutMs} ms`);
  }
}

/** A stream entry that can never be processed (bad fields, unknown execution). */
export class PoisonNoticeError extends FlowpoolError {
  constructor(message: string) {
    super('POISON_NOTICE', message);
  }
}

export class UnavailableError extends FlowpoolError {
  constructor(what: string, cause?: unknown) {
    super('UNAVAILABLE', `${what} is unavailable${cause ? `: ${describeError(cause)}` : ''}`, {
      cause,
    });
  }
}

export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

export function errorCode(error: unknown): ErrorCode | undefined {
  return error instanceof FlowpoolError ? error.code : undefined;
}

/** Workflow code (a guard, an update) threw while applying an event. */
export class WorkflowCodeError extends FlowpoolError {
  constructor(
    where: string,
    cause: unknown,
    /** The event being applied, when the code threw for one event (not during a replay). */
    readonly eventId?: string,
  ) {
    super('WORKFLOW_CODE', `${where} threw: ${describeError(cause)}`, { cause });
  }
}
