/**
 * flowpool's library entry point: what an application imports to start
 * executions and enqueue events, and to write its own workflows.
 */

/** TypeBox, for declaring input and payload schemas: `Type.Object({ text: Type.String() })`. */
export { type Static, type TSchema, Type } from '@sinclair/typebox';
export {
  BadInputError,
  ConflictError,
  type ErrorCode,
  errorCode,
  FlowpoolError,
  NotFoundError,
  UnavailableError,
  UnknownWorkflowError,
} from '../core/errors.js';
export type {
  EnqueuedEventView,
  ExecutionView,
  HistoryEntry,
  StartedExecution,
} from '../store/views.js';
export type {
  ActionContext,
  ActionHandler,
  ActionSpec,
  EventSpec,
  Guard,
  GuardContext,
  Transition,
  WorkflowDefinition,
  WorkflowState,
} from '../workflow/definition.js';
export { defineBareEvent, defineEvent, defineWorkflow } from '../workflow/definition.js';
export {
  type AnyWorkflowDefinition,
  createFlowpoolClient,
  DEFAULT_GROUP,
  DEFAULT_STREAM,
  type EnqueueEventRequest,
  type EnqueueItemResult,
  type EnqueueResult,
  type FlowpoolClient,
  type FlowpoolClientOptions,
  type HistoryOptions,
  MAX_BULK_EVENTS,
  type StartExecutionRequest,
} from './client.js';
