import { logText } from '../core/error-record.js';
import { ConfigError } from '../core/errors.js';
import { EXIT_CONFIG, reportConfigError } from '../core/process/startup.js';
import { loadWorkflows } from './loader.js';
import type { WorkflowRegistry } from './registry.js';

/**
 * Parses a program's configuration and loads its workflows. On a bad value
 * it reports one line naming the variable, exits 2 and returns undefined.
 */
export async function loadConfigAndWorkflows<C extends { workflowsPath: string | undefined }>(
  component: string,
  load: () => C,
  exit: (code: number) => void,
): Promise<{ config: C; registry: WorkflowRegistry } | undefined> {
  try {
    const config = load();
    const registry = await loadWorkflows(config.workflowsPath).catch((error: unknown) => {
      if (error instanceof ConfigError) throw error;
      throw new ConfigError('FLOWPOOL_WORKFLOWS', `could not load: ${logText(error)}`);
    });
    return { config, registry };
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    reportConfigError(component, error);
    exit(EXIT_CONFIG);
    return undefined;
  }
}
