/**
 * `flowpool operator`: watches WorkflowWorkerPools and keeps one worker
 * Deployment per pool, sized from its stream backlog. Only the holder of
 * the leader Lease runs the controllers; the others wait, ready to take
 * over. Serves /healthz, /readyz and /metrics on PORT.
 */
import { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { Env } from '../core/config/parse.js';
import { logText } from '../core/error-record.js';
import { ConfigError } from '../core/errors.js';
import { type HealthServer, startHealthServer } from '../core/process/health-server.js';
import { exitProcess, runProgram } from '../core/process/startup.js';
import { loadOperatorConfig, type OperatorConfig } from './config.js';
import { PoolController, type PoolControllerOptions } from './controller/controller.js';
import { AlwaysLeader, aborted, type LeaderElection } from './election.js';
import { KubeApi } from './kube/kube-api.js';
import { LeaderElector } from './leader/elector.js';
import { OperatorMetrics } from './metrics.js';

export { loadOperatorConfig, type OperatorConfig } from './config.js';

/** Lease timings; the defaults are Kubernetes' own (15 s, 10 s, 2 s). */
export interface LeaseTimings {
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

export interface OperatorOptions {
  logger: Logger;
  /** Defaults to the config's kubeconfig file or the in-cluster config. */
  kubeConfig?: KubeConfig;
  metrics?: OperatorMetrics;
  lease?: Partial<LeaseTimings>;
  /** Passed to the controller (tests: a backlog connector, queue backoff, ...). */
  controller?: Partial<Omit<PoolControllerOptions, 'kube' | 'logger' | 'namespace' | 'metrics'>>;
}

export interface RunningOperator {
  /** The port /healthz, /readyz and /metrics answer on. */
  readonly port: number;
  readonly metrics: OperatorMetrics;
  isLeader(): boolean;
  /** The controller while leading (tests). */
  readonly controller: PoolController | undefined;
  stop(): Promise<void>;
}

function loadKubeConfig(config: OperatorConfig): KubeConfig {
  const kubeConfig = new KubeConfig();
  try {
    if (config.kube.kind === 'file') kubeConfig.loadFromFile(config.kube.path);
    else kubeConfig.loadFromCluster();
  } catch (error) {
    throw new ConfigError(
      'KUBECONFIG',
      `could not load ${config.kube.kind === 'file' ? config.kube.path : 'the in-cluster config'}: ${logText(error)}`,
    );
  }
  if (!kubeConfig.getCurrentCluster()) {
    throw new ConfigError('KUBECONFIG', 'the kubeconfig names no current cluster');
  }
  return kubeConfig;
}

/**
 * Starts the operator: the HTTP endpoints at once, the controllers
 * whenever this process leads. Resolves once the endpoints answer.
 */
export async function startOperator(
  config: OperatorConfig,
  options: OperatorOptions,
): Promise<RunningOperator> {
  const { logger } = options;
  const kubeConfig = options.kubeConfig ?? loadKubeConfig(config);
  const metrics = options.metrics ?? new OperatorMetrics();
  let controller: PoolController | undefined;

  const election: LeaderElection =
    config.leaderElection && config.leaseNamespace !== undefined
      ? new LeaderElector({
          kubeConfig,
          namespace: config.leaseNamespace,
          name: config.leaseName,
          createLease: config.leaseCreate,
          identity: config.identity,
          logger: logger.child({ component: 'leader-election' }),
          leaseDurationMs: config.leaseDurationSeconds * 1000,
          renewDeadlineMs: config.renewDeadlineSeconds * 1000,
          retryPeriodMs: config.retryPeriodSeconds * 1000,
          ...options.lease,
        })
      : new AlwaysLeader();

  election.onStartedLeading(async (signal) => {
    logger.info({ identity: config.identity }, 'leading: starting the controllers');
    metrics.setLeader(true);
    // A client of this term's own: when the lease is lost, the writes it has
    // in flight are cut off at once rather than landing after a new leader
    // has started (the lease leaves only leaseDuration - renewDeadline).
    const termKube = new KubeApi(kubeConfig, signal);
    const current = new PoolController({
      ...options.controller,
      kube: termKube,
      logger: logger.child({ component: 'controller' }),
      namespace: config.watchNamespace,
      podPolicy: config.podPolicy,
      podDeletionCost: config.podDeletionCost,
      metrics,
      resyncMs: options.controller?.resyncMs ?? config.resyncSeconds * 1000,
    });
    controller = current;
    try {
      await Promise.race([current.start(), aborted(signal)]);
      await aborted(signal);
    } finally {
      await current.stop();
      termKube.close();
      if (controller === current) controller = undefined;
      metrics.setLeader(false);
      logger.info('no longer leading: controllers stopped');
    }
  });
  election.onStoppedLeading(() => {
    metrics.setLeader(false);
  });
  metrics.setLeader(false);

  const server: HealthServer = await startHealthServer({
    port: config.port,
    logger,
    metrics: () => metrics.render(),
    readiness: async () => {
      const leading = election.isLeader();
      const synced = controller?.synced ?? false;
      const ready = !leading || synced;
      return {
        ready,
        ...(ready ? {} : { reason: 'watches have not listed pools and Deployments yet' }),
        checks: {
          leader: leading ? 'leading' : 'standby',
          watches: leading ? (synced ? 'ok' : 'syncing') : 'idle',
        },
      };
    },
  });
  election.start();
  logger.info(
    {
      port: server.port,
      watchNamespace: config.watchNamespace ?? '(all)',
      leaderElection: config.leaderElection,
      lease: config.leaderElection ? `${config.leaseNamespace}/${config.leaseName}` : undefined,
      identity: config.identity,
      // Off: scale downs remove pods in the ReplicaSet's own order (workers still drain).
      podDeletionCost: config.podDeletionCost,
    },
    'operator started',
  );

  let stopping: Promise<void> | undefined;
  return {
    port: server.port,
    metrics,
    isLeader: () => election.isLeader(),
    get controller() {
      return controller;
    },
    stop: () => {
      stopping ??= (async () => {
        await election.stop();
        await server.close();
      })();
      return stopping;
    },
  };
}

/**
 * The `flowpool operator` command: parses the environment once (a bad
 * value exits 2 with one line naming the variable), starts the operator
 * and leaves the process to the Shutdown (SIGTERM/SIGINT: stop leading,
 * release the Lease, exit 0). Resolves once the operator runs.
 */
export async function runOperator(env: Env, exit = exitProcess): Promise<void> {
  await runProgram(
    {
      component: 'operator',
      load: () => {
        const config = loadOperatorConfig(env);
        return { config, kubeConfig: loadKubeConfig(config) };
      },
      settings: ({ config }) => ({
        logLevel: config.logLevel,
        port: config.port,
        identity: { identity: config.identity },
      }),
      async start({ config, kubeConfig }, logger, shutdown) {
        const operator = await startOperator(config, { logger, kubeConfig });
        shutdown.register('operator', () => operator.stop());
      },
    },
    exit,
  );
}
