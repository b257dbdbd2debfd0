import { logText } from '../core/error-record.js';
import { ConfigError } from '../core/errors.js';
import { loadWorkflows } from './loader.js';
import type { WorkflowRegistry } from './registry.js';

/**
 * Parses a program's configuration and loads its workflows; a workflow
 * module that cannot be loaded is a ConfigError naming FLOWPOOL_WORKFLOWS.
 */
export async function loadConfigAndWorkflows<C extends { workflowsPath: string | undefined }>(
  load: () => C,
): Promise<{ config: C; registry: WorkflowRegistry }> {
  const config = load();
  const registry = await loadWorkflows(config.workflowsPath).catch((error: unknown) => {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError('FLOWPOOL_WORKFLOWS', `could not load: ${logText(error)}`);
  });
  return { config, registry };
}
