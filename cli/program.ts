import { Command, CommanderError, Option } from 'commander';
import { loadToolConfig } from '../core/config/config.js';
import type { Env } from '../core/config/parse.js';
import { BadInputError, ConfigError, describeError, FlowpoolError } from '../core/errors.js';
import { EXIT_CONFIG, reportConfigError } from '../core/process/startup.js';
import {
  describeDeadLetters,
  describeExecution,
  describeVerify,
  fullHistory,
  jsonOption,
  migrate,
  type Output,
  requireExecution,
  ToolContext,
  UsageError,
  verify,
} from './tools.js';

/** A long-running program was started; the process lives until its Shutdown exits. */
export const RUNNING = 'running';
export type CliOutcome = number | typeof RUNNING;

const ENVIRONMENT_HELP = `
Environment (see the design's table): DATABASE_URL, REDIS_URL,
WORKFLOW_REDIS_STREAM_PREFIX, WORKFLOW_POOL, WORKFLOW_REDIS_CONSUMER_GROUP,
FLOWPOOL_WORKFLOWS, LOG_LEVEL, and for the worker WORKFLOW_WORKER_COUNT,
WORKFLOW_CONCURRENCY, WORKFLOW_DB_POOL_SIZE, WORKFLOW_REDIS_BATCH_SIZE,
WORKFLOW_REDIS_IDLE_TIMEOUT_MS,
WORKFLOW_MAX_DELIVERIES, WORKFLOW_DRAIN_TIMEOUT_MS, WORKFLOW_LOCK_TTL_MS,
WORKFLOW_RELAY_INTERVAL_MS, WORKFLOW_RELAY_UNPUBLISHED_AFTER_MS,
WORKFLOW_RELAY_REPUBLISH_AFTER_MS, POD_NAME, PORT.

Exit codes: 0 success, 1 failure (or problems found by verify), 2 bad
arguments or configuration.`;

/**
 * The long-running programs. Each is loaded on use: a restarted pod should
 * not pay for the other programs' modules. The imports stay literal so
 * TypeScript and the image's module check follow them.
 */
const PROGRAMS: ReadonlyArray<{
  name: string;
  description: string;
  load: () => Promise<(env: Env) => Promise<void>>;
}> = [
  {
    name: 'worker',
    description:
      'run a worker: consume the stream, apply events, run actions, relay lost notices; /healthz /readyz /metrics on PORT',
    load: async () => (await import('../worker/process/worker-main.js')).runWorker,
  },
  {
    name: 'api',
    description: 'run the HTTP API on PORT (Bearer tokens from FLOWPOOL_API_TOKENS)',
    load: async () => (await import('../api/main.js')).runApi,
  },
  {
    name: 'operator',
    description: 'run the Kubernetes operator that keeps one worker Deployment per pool',
    load: async () => (await import('../operator/main.js')).runOperator,
  },
];

function tenantOption(): Option {
  return new Option(
    '-t, --tenant <tenant>',
    'tenant the execution belongs to',
  ).makeOptionMandatory();
}

/**
 * Builds the `flowpool` command. `env` is the environment the CLI entry was
 * given (the only place process.env is read); every loader gets it from here.
 */
function buildProgram(
  env: Env,
  output: Output,
  setOutcome: (outcome: CliOutcome) => void,
  /** Commands built elsewhere (e.g. `dev`, which runs the whole system locally). */
  extraCommands: readonly Command[] = [],
): Command {
  const program = new Command('flowpool')
    .description(
      'Event-sourced workflows on PostgreSQL and Redis Streams: worker, api, operator and tools',
    )
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText('after', ENVIRONMENT_HELP)
    .configureOutput({
      writeOut: (text) => output.out(text.trimEnd()),
      writeErr: (text) => output.err(text.trimEnd()),
    })
    .exitOverride();

  /** A one-shot tool: config from the environment, connections closed afterwards. */
  const tool =
    <A extends unknown[]>(run: (context: ToolContext, ...args: A) => Promise<number>) =>
    async (...args: A) => {
      const context = new ToolContext(loadToolConfig(env));
      try {
        setOutcome(await run(context, ...args));
      } finally {
        await context.close();
      }
    };

  program
    .command('migrate')
    .description('create or update the workflow tables in DATABASE_URL (or roll back with --down)')
    .option('--down', 'roll back the latest batch of migrations')
    .action(async (options: { down?: boolean }) => {
      setOutcome(await migrate(loadToolConfig(env), options.down === true, output));
    });

  for (const { name, description, load } of PROGRAMS) {
    program
      .command(name)
      .description(description)
      .action(async () => {
        const run = await load();
        await run(env);
        setOutcome(RUNNING);
      });
  }

  program
    .command('submit')
    .description('start an execution of <workflow>; prints {executionId, workflow, state, data}')
    .argument('<workflow>', 'workflow name')
    .addOption(tenantOption())
    .option('--id <executionId>', 'execution id (default: a random UUID)')
    .option('--input <json>', 'start input as JSON')
    .action(
      tool(
        async (
          context,
          workflow: string,
          options: { tenant: string; id?: string; input?: string },
        ) => {
          const { service } = await context.runtime();
          const execution = await service.startExecution({
            tenant: options.tenant,
            workflow,
            executionId: options.id,
            input: jsonOption('--input', options.input),
          });
          output.out(
            JSON.stringify({
              executionId: execution.executionId,
              workflow: execution.workflowName,
              state: execution.state,
              data: execution.data,
            }),
          );
          return 0;
        },
      ),
    );

  program
    .command('submit-event')
    .description('enqueue <event> for an execution; prints {eventId, seq, duplicate}')
    .argument('<executionId>', 'execution id')
    .argument('<event>', 'event name')
    .addOption(tenantOption())
    .option('--payload <json>', 'event payload as JSON')
    .option(
      '--key <idempotencyKey>',
      'idempotency key: the same key and payload return the first event',
    )
    .action(
      tool(
        async (
          context,
          executionId: string,
          event: string,
          options: { tenant: string; payload?: string; key?: string },
        ) => {
          const { service } = await context.runtime();
          const enqueued = await service.enqueueEvent({
            tenant: options.tenant,
            executionId,
            event,
            payload: jsonOption('--payload', options.payload),
            idempotencyKey: options.key,
          });
          output.out(JSON.stringify(enqueued));
          return 0;
        },
      ),
    );

  program
    .command('inspect')
    .description("show an execution's state and its history")
    .argument('<executionId>', 'execution id')
    .addOption(tenantOption())
    .option('--json', 'print JSON instead of a table')
    .action(
      tool(async (context, executionId: string, options: { tenant: string; json?: boolean }) => {
        const execution = await requireExecution(context, options.tenant, executionId);
        const events = await fullHistory(context, options.tenant, executionId);
        output.out(
          options.json
            ? JSON.stringify({ execution, events }, null, 2)
            : describeExecution(execution, events),
        );
        return 0;
      }),
    );

  program
    .command('verify')
    .description(
      'recompute an execution from its log and compare the stored state, snapshots and transitions; exit 1 on problems',
    )
    .argument('<executionId>', 'execution id')
    .addOption(tenantOption())
    .option('--json', 'print the report as JSON')
    .action(
      tool(async (context, executionId: string, options: { tenant: string; json?: boolean }) => {
        const report = await verify(context, options.tenant, executionId);
        output.out(options.json ? JSON.stringify(report, null, 2) : describeVerify(report));
        return report.ok ? 0 : 1;
      }),
    );

  const dlq = program
    .command('dlq')
    .description('dead letters: events that kept failing and were set aside');
  dlq
    .command('list')
    .description("list a tenant's dead events with their last error")
    .addOption(tenantOption())
    .option('--limit <n>', 'at most this many', '100')
    .option('--json', 'print JSON instead of a table')
    .action(
      tool(async (context, options: { tenant: string; limit: string; json?: boolean }) => {
        const limit = Number(options.limit);
        if (!Number.isInteger(limit) || limit < 1 || limit > 10_000)
          throw new UsageError('--limit must be a whole number from 1 to 10000');
        const dead = await context.store.listDead(options.tenant, limit);
        output.out(options.json ? JSON.stringify(dead, null, 2) : describeDeadLetters(dead));
        return 0;
      }),
    );
  dlq
    .command('retry')
    .description('put a dead event back to pending and send its notice again')
    .argument('<eventId>', 'event id')
    .addOption(tenantOption())
    .action(
      tool(async (context, eventId: string, options: { tenant: string }) => {
        const { executionId } = await context.deadLetters().retry(options.tenant, eventId);
        output.out(JSON.stringify({ eventId, executionId, status: 'pending' }));
        return 0;
      }),
    );

  for (const command of extraCommands) program.addCommand(command);

  return program;
}

/** Maps what went wrong to an exit code and one line on stderr. */
function failure(error: unknown, output: Output): number {
  if (error instanceof CommanderError) {
    // Help and --version "fail" with exit code 0; usage errors were already printed.
    return error.exitCode === 0 ? 0 : EXIT_CONFIG;
  }
  if (error instanceof ConfigError) {
    reportConfigError('cli', error);
    return EXIT_CONFIG;
  }
  if (error instanceof UsageError || error instanceof BadInputError) {
    output.err(`flowpool: ${error.message}`);
    return EXIT_CONFIG;
  }
  const code = error instanceof FlowpoolError ? ` [${error.code}]` : '';
  output.err(`flowpool: ${describeError(error)}${code}`);
  return 1;
}

/** Runs the CLI; resolves to an exit code, or RUNNING for the long-running programs. */
export async function runCli(
  argv: readonly string[],
  env: Env,
  output: Output = {
    out: (text) => process.stdout.write(`${text}\n`),
    err: (text) => process.stderr.write(`${text}\n`),
  },
): Promise<CliOutcome> {
  let outcome: CliOutcome = 0;
  const setOutcome = (value: CliOutcome) => {
    outcome = value;
  };
  // `dev` brings the local mode's modules (servers, autoscaler, live view);
  // load them only when `dev` or the command list may be asked for.
  const command = argv.slice(2).find((arg) => !arg.startsWith('-'));
  const extraCommands: Command[] = [];
  if (command === undefined || command === 'dev' || command === 'help') {
    const { devCommand } = await import('../local/dev-command.js');
    extraCommands.push(devCommand(env, (line) => output.out(line), setOutcome));
  }
  const program = buildProgram(env, output, setOutcome, extraCommands);
  try {
    await program.parseAsync([...argv]);
  } catch (error) {
    return failure(error, output);
  }
  return outcome;
}
