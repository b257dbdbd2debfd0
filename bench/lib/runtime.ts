import pino from 'pino';
import { createRuntime, DEFAULT_RUNTIME_SETTINGS } from '../../worker/runtime/runtime.js';
import { bundledWorkflows } from '../../workflow/bundled/index.js';
import { WorkflowRegistry } from '../../workflow/registry.js';
import type { BenchEnv } from './env.js';

/** A silent in-process runtime with the bundled workflows: the producer (or reader) side of a bench. */
export function benchRuntime(
  env: BenchEnv,
  stream: string,
  options: { group?: string; workerId?: string } = {},
) {
  return createRuntime({
    knex: env.knex,
    redis: env.redis,
    registry: new WorkflowRegistry(bundledWorkflows),
    settings: {
      ...DEFAULT_RUNTIME_SETTINGS,
      stream,
      group: options.group ?? 'workflow-workers',
      workerId: options.workerId ?? 'bench-producer',
    },
    logger: pino({ level: 'silent' }),
  });
}
