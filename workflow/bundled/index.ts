import type { WorkflowDefinition } from '../definition.js';
import { ticketLifecycle } from './ticket-lifecycle.js';

/** The workflows shipped with flowpool, used when FLOWPOOL_WORKFLOWS is not set. */
export const bundledWorkflows: readonly WorkflowDefinition[] = [
  ticketLifecycle as unknown as WorkflowDefinition,
];
