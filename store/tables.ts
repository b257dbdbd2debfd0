/** The table names of migrations/, for every module that writes SQL against them. */
export const EXECUTIONS = 'workflow_executions';
export const EVENTS = 'workflow_events';
export const PROCESSING = 'workflow_event_processing';
export const SNAPSHOTS = 'workflow_snapshots';
export const ACTIONS = 'workflow_action_results';
