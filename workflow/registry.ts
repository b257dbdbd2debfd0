import { UnknownWorkflowError } from '../core/errors.js';
import type { WorkflowDefinition } from './definition.js';

/** The workflow definitions a process knows, by name and version. */
export class WorkflowRegistry {
  private readonly byName = new Map<string, Map<number, WorkflowDefinition>>();

  constructor(definitions: Iterable<WorkflowDefinition> = []) {
    for (const definition of definitions) this.register(definition);
  }

  register(definition: WorkflowDefinition): void {
    const versions = this.byName.get(definition.name) ?? new Map<number, WorkflowDefinition>();
    if (versions.has(definition.version)) {
      throw new Error(`workflow ${definition.name}@${definition.version} is registered twice`);
    }
    versions.set(definition.version, definition);
    this.byName.set(definition.name, versions);
  }

  /** The newest version: what new executions start on. */
  latest(name: string): WorkflowDefinition {
    const versions = this.byName.get(name);
    if (!versions || versions.size === 0) throw new UnknownWorkflowError(name);
    const newest = Math.max(...versions.keys());
    return versions.get(newest)!;
  }

  /** The exact version an execution started on: replay must use it. */
  get(name: string, version: number): WorkflowDefinition {
    const found = this.byName.get(name)?.get(version);
    if (!found) throw new UnknownWorkflowError(name, version);
    return found;
  }

  /** Every registered version of every workflow. */
  definitions(): WorkflowDefinition[] {
    return [...this.byName.values()].flatMap((versions) => [...versions.values()]);
  }

  names(): string[] {
    return [...this.byName.keys()].sort();
  }
}
