import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError } from '../core/errors.js';
import { bundledWorkflows } from './bundled/index.js';
import type { WorkflowDefinition } from './definition.js';
import { WorkflowRegistry } from './registry.js';

function isDefinition(value: unknown): value is WorkflowDefinition {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Partial<WorkflowDefinition>;
  return (
    typeof candidate.name === 'string' &&
    typeof candidate.version === 'number' &&
    typeof candidate.events === 'object'
  );
}

/** Every workflow definition a module exports (default export, named exports, or an array of them). */
function definitionsIn(module: Record<string, unknown>): WorkflowDefinition[] {
  const found: WorkflowDefinition[] = [];
  for (const value of Object.values(module)) {
    for (const item of Array.isArray(value) ? value : [value])
      if (isDefinition(item)) found.push(item);
  }
  return [...new Set(found)];
}

function modulesAt(target: string): string[] {
  if (!fs.statSync(target).isDirectory()) return [target];
  return fs
    .readdirSync(target)
    .filter((name) => /\.(m?js)$/.test(name))
    .sort()
    .map((name) => path.join(target, name));
}

/**
 * Loads the workflows named by FLOWPOOL_WORKFLOWS (a module or a folder of
 * compiled modules), or the bundled examples when it is unset.
 */
export async function loadWorkflows(workflowsPath: string | undefined): Promise<WorkflowRegistry> {
  if (workflowsPath === undefined) return new WorkflowRegistry(bundledWorkflows);
  const target = path.resolve(workflowsPath);
  if (!fs.existsSync(target))
    throw new ConfigError('FLOWPOOL_WORKFLOWS', `no file or folder at ${target}`);
  const definitions: WorkflowDefinition[] = [];
  for (const file of modulesAt(target)) {
    definitions.push(
      ...definitionsIn((await import(pathToFileURL(file).href)) as Record<string, unknown>),
    );
  }
  if (definitions.length === 0)
    throw new ConfigError('FLOWPOOL_WORKFLOWS', `no workflow definitions exported from ${target}`);
  return new WorkflowRegistry(definitions);
}
