/**
 * A test-side stand-in for what a cluster does with a worker Deployment:
 * the ReplicaSet controller (Pod objects for spec.replicas, victims picked
 * by pod-deletion-cost on a scale down), the kubelet (one real worker
 * process per Pod, its environment resolved from the pod template, readiness
 * from /readyz, SIGTERM then SIGKILL after terminationGracePeriodSeconds)
 * and the Deployment controller's status (replicas, readyReplicas, ...).
 *
 * It talks to the API server like those controllers do, so the operator's
 * own paths run against it unchanged: it lists Pods to mark deletion costs,
 * and removes the stream consumers of Pods that are gone.
 *
 * ```ts
 * const agent = await NodeAgent.start({ kubeConfig, namespace, deployment: 'pool' });
 * // ... the operator scales the Deployment; agent.pods says what ran and how it ended
 * await agent.stop();
 * ```
 *
 * Differences from a cluster, on purpose: every process shares the
 * loopback, so PORT is a free port instead of the template's; readiness is
 * probed every `probeIntervalMs` (default 500 ms) rather than at the
 * probe's periodSeconds; a crashed process is not restarted in place (the
 * Pod is deleted and replaced, and the crash is recorded); a template change
 * does not roll the running pods.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { KubeConfig, V1Container, V1EnvVar } from '@kubernetes/client-node';
import pino from 'pino';
import { freePort } from '../../local/process.js';
import { Reflector } from '../../operator/controller/reflector.js';
import { POD_DELETION_COST } from '../../operator/controller/scaling.js';
import { isNotFound } from '../../operator/kube/client.js';
import { KubeApi } from '../../operator/kube/kube-api.js';
import type { Deployment, Pod } from '../../operator/kube/types.js';
import { childEnv, type Exit, FlowpoolProcess } from '../process/support.js';

export interface NodeAgentOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  /** The Deployment to run. */
  deployment: string;
  /** spec.nodeName of the Pods (so the API server deletes them gracefully, as on a node). */
  nodeName?: string;
  /** How often each running process's /readyz is asked (default 500 ms). */
  probeIntervalMs?: number;
  /** Log lines kept in memory per process (default 5,000). */
  keepLines?: number;
}

/** One Pod the agent ran, from creation to exit. */
export interface AgentPod {
  name: string;
  process: FlowpoolProcess;
  port: number;
  createdAt: number;
  ready: boolean;
  /** First time /readyz answered 200. */
  readyAt: number | undefined;
  /** When the agent chose it for a scale down (Pod deleted, SIGTERM sent). */
  terminatingAt: number | undefined;
  /** Its pod-deletion-cost annotation when it was chosen (undefined: none). */
  deletionCostWhenChosen: string | undefined;
  /** terminationGracePeriodSeconds of its template. */
  graceSeconds: number;
  /** True when it was still running after the grace period and got SIGKILL. */
  killed: boolean;
  exitedAt: number | undefined;
  exit: Exit | undefined;
  /** True when it exited without being asked to. */
  crashed: boolean;
}

/** spec.replicas of the Deployment as the watch delivered it. */
export interface ReplicaChange {
  at: number;
  replicas: number;
}

/** The status the agent last wrote. */
export interface ReportedStatus {
  replicas: number;
  readyReplicas: number;
  availableReplicas: number;
  updatedReplicas: number;
  unavailableReplicas: number;
  observedGeneration: number | undefined;
}

const NAME_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

function randomSuffix(length = 5): string {
  const bytes = randomBytes(length);
  return Array.from(bytes, (byte) => NAME_ALPHABET[byte % NAME_ALPHABET.length]).join('');
}

/** A short stable hash of the pod template, like the pod-template-hash label. */
function templateHash(deployment: Deployment): string {
  let hash = 2166136261;
  for (const char of JSON.stringify(deployment.spec?.template ?? {})) {
    hash = Math.imul(hash ^ char.charCodeAt(0), 16777619) >>> 0;
  }
  return hash.toString(16).padStart(8, '0');
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function probe(port: number): Promise<boolean> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/readyz`, {
      signal: AbortSignal.timeout(1_000),
    });
    await response.body?.cancel();
    return response.status === 200;
  } catch {
    return false;
  }
}

export class NodeAgent {
  /** Every Pod ever started, in start order. */
  readonly pods: AgentPod[] = [];
  readonly replicaChanges: ReplicaChange[] = [];
  /** Errors of API calls or process starts; the loop retries after each. */
  readonly errors: Array<{ at: number; message: string }> = [];
  /** Statuses written to the Deployment, with when. */
  readonly reported: Array<ReportedStatus & { at: number }> = [];

  private readonly api: KubeApi;
  private readonly reflector: Reflector<Deployment>;
  private readonly key: string;
  private readonly nodeName: string;
  private readonly probeIntervalMs: number;
  private readonly keepLines: number;
  private dirty = false;
  private syncing: Promise<void> | undefined;
  private probeTimer: NodeJS.Timeout | undefined;
  private probing = false;
  private stopped = false;
  private lastReport = '';

  private constructor(private readonly options: NodeAgentOptions) {
    this.api = new KubeApi(options.kubeConfig);
    this.key = `${options.namespace}/${options.deployment}`;
    this.nodeName = options.nodeName ?? 'system-test-node';
    this.probeIntervalMs = options.probeIntervalMs ?? 500;
    this.keepLines = options.keepLines ?? 5_000;
    const seen = (deployment: Deployment) => {
      if (deployment.metadata?.name !== options.deployment) return;
      const replicas = deployment.spec?.replicas ?? 1;
      if (this.replicaChanges.at(-1)?.replicas !== replicas) {
        this.replicaChanges.push({ at: Date.now(), replicas });
      }
      this.kick();
    };
    this.reflector = new Reflector(
      this.api.deployments(options.namespace, `app.kubernetes.io/instance=${options.deployment}`),
      {
        onAdd: seen,
        onUpdate: (_previous, deployment) => seen(deployment),
        onDelete: (deployment) => {
          if (deployment.metadata?.name !== options.deployment) return;
          this.replicaChanges.push({ at: Date.now(), replicas: 0 });
          this.kick();
        },
      },
      pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
      { baseBackoffMs: 100, maxBackoffMs: 1_000 },
    );
  }

  /** Starts watching the Deployment; resolves once it has been listed. */
  static async start(options: NodeAgentOptions): Promise<NodeAgent> {
    const agent = new NodeAgent(options);
    agent.reflector.start();
    await agent.reflector.waitForSync();
    agent.scheduleProbe();
    agent.kick();
    return agent;
  }

  /** Running processes the agent has not asked to stop. */
  get active(): AgentPod[] {
    return this.pods.filter((pod) => pod.exit === undefined && pod.terminatingAt === undefined);
  }

  /** Processes asked to stop that have not exited yet. */
  get terminating(): AgentPod[] {
    return this.pods.filter((pod) => pod.exit === undefined && pod.terminatingAt !== undefined);
  }

  /** Processes that have not exited, terminating ones included. */
  get alive(): AgentPod[] {
    return this.pods.filter((pod) => pod.exit === undefined);
  }

  get readyCount(): number {
    return this.active.filter((pod) => pod.ready).length;
  }

  /** The Deployment as last seen by the watch. */
  get deployment(): Deployment | undefined {
    return this.reflector.get(this.key);
  }

  /** Stops watching and probing; SIGKILLs whatever still runs (a test's cleanup). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.probeTimer) clearTimeout(this.probeTimer);
    await this.reflector.stop();
    await this.syncing;
    await Promise.all(this.alive.map((pod) => pod.process.stop('SIGKILL', 5_000)));
    this.api.close();
  }

  /** Writes every process's kept output to `<dir>/<pod>.log`. */
  writeLogs(dir: string): void {
    fs.mkdirSync(dir, { recursive: true });
    for (const pod of this.pods) {
      const text = pod.process.lines.map((line) => line.raw).join('\n');
      fs.writeFileSync(path.join(dir, `${pod.name}.log`), `${text}\n`);
    }
  }

  // ------------------------------------------------------------------ loop

  /** Asks for a sync; syncs run one at a time, and a request during one runs another after it. */
  private kick(): void {
    if (this.stopped) return;
    this.dirty = true;
    this.syncing ??= this.loop().finally(() => {
      this.syncing = undefined;
      if (this.dirty && !this.stopped) this.kick();
    });
  }

  private async loop(): Promise<void> {
    let failures = 0;
    while (this.dirty && !this.stopped) {
      this.dirty = false;
      try {
        await this.sync();
        failures = 0;
      } catch (error) {
        this.errors.push({ at: Date.now(), message: message(error) });
        failures += 1;
        this.dirty = true;
        await sleep(Math.min(1_000, 100 * 2 ** failures));
      }
    }
  }

  private async sync(): Promise<void> {
    const deployment = this.deployment;
    const wanted = deployment === undefined ? 0 : (deployment.spec?.replicas ?? 1);
    const active = this.active;
    if (active.length < wanted && deployment !== undefined) {
      const secrets = new Map<string, Record<string, string>>();
      await Promise.all(
        Array.from({ length: wanted - active.length }, () => this.startPod(deployment, secrets)),
      );
    } else if (active.length > wanted) {
      const victims = await this.chooseVictims(active, active.length - wanted);
      await Promise.all(victims.map((victim) => this.terminate(victim)));
    }
    if (deployment !== undefined) await this.reportStatus(deployment, wanted);
  }

  // ------------------------------------------------------------- starting

  private podsPath(name?: string): string {
    const base = `/api/v1/namespaces/${encodeURIComponent(this.options.namespace)}/pods`;
    return name === undefined ? base : `${base}/${encodeURIComponent(name)}`;
  }

  private async startPod(
    deployment: Deployment,
    secrets: Map<string, Record<string, string>>,
  ): Promise<void> {
    const template = deployment.spec?.template;
    const container =
      template?.spec?.containers.find((c) => c.name === 'worker') ?? template?.spec?.containers[0];
    if (template === undefined || container === undefined) {
      throw new Error(`Deployment ${this.key} has no container to run`);
    }
    const hash = templateHash(deployment);
    const name = `${this.options.deployment}-${hash}-${randomSuffix()}`;
    const labels = { ...(template.metadata?.labels ?? {}), 'pod-template-hash': hash };
    const env = await this.resolveEnv(container, name, secrets);
    // The ReplicaSet controller's part: the Pod object, bound to this "node".
    await this.api.client.request<Pod>('POST', this.podsPath(), {
      body: {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          name,
          namespace: this.options.namespace,
          labels,
          ...(template.metadata?.annotations ? { annotations: template.metadata.annotations } : {}),
        },
        spec: { ...template.spec, nodeName: this.nodeName },
      },
    });
    // The kubelet's part: the container, as the image's entrypoint would run it.
    const port = await freePort();
    const child = await FlowpoolProcess.start(
      name,
      container.args ?? [],
      childEnv({ ...env, PORT: String(port) }),
      { keepLines: this.keepLines },
    );
    const pod: AgentPod = {
      name,
      process: child,
      port,
      createdAt: Date.now(),
      ready: false,
      readyAt: undefined,
      terminatingAt: undefined,
      deletionCostWhenChosen: undefined,
      graceSeconds: template.spec?.terminationGracePeriodSeconds ?? 30,
      killed: false,
      exitedAt: undefined,
      exit: undefined,
      crashed: false,
    };
    this.pods.push(pod);
    void child.exited.then((exit) => this.exited(pod, exit));
    void this.patchPodStatus(pod);
  }

  /**
   * The container's environment as the kubelet builds it: plain values,
   * Secret and ConfigMap keys, the downward API, and $(VAR) references to
   * variables defined earlier in the list.
   */
  private async resolveEnv(
    container: V1Container,
    podName: string,
    secrets: Map<string, Record<string, string>>,
  ): Promise<Record<string, string>> {
    const env: Record<string, string> = {};
    for (const entry of container.env ?? []) {
      env[entry.name] = await this.valueOf(entry, podName, env, secrets);
    }
    return env;
  }

  private async valueOf(
    entry: V1EnvVar,
    podName: string,
    defined: Record<string, string>,
    secrets: Map<string, Record<string, string>>,
  ): Promise<string> {
    if (entry.value !== undefined) {
      return entry.value.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (whole, name) => {
        if (whole === '$$') return '$';
        return defined[name] ?? whole;
      });
    }
    const from = entry.valueFrom;
    if (from?.fieldRef) {
      const field = from.fieldRef.fieldPath;
      if (field === 'metadata.name') return podName;
      if (field === 'metadata.namespace') return this.options.namespace;
      if (field === 'spec.nodeName') return this.nodeName;
      throw new Error(`env ${entry.name}: fieldRef ${field} is not supported by the node agent`);
    }
    const ref = from?.secretKeyRef ?? from?.configMapKeyRef;
    if (ref) {
      const kind = from?.secretKeyRef ? 'secrets' : 'configmaps';
      const cacheKey = `${kind}/${ref.name}`;
      let data = secrets.get(cacheKey);
      if (data === undefined) {
        const object = await this.api.client.request<{
          data?: Record<string, string>;
        }>('GET', `/api/v1/namespaces/${this.options.namespace}/${kind}/${ref.name}`);
        data = Object.fromEntries(
          Object.entries(object.data ?? {}).map(([key, value]) => [
            key,
            kind === 'secrets' ? Buffer.from(value, 'base64').toString('utf8') : value,
          ]),
        );
        secrets.set(cacheKey, data);
      }
      const value = data[ref.key];
      if (value === undefined) {
        if (ref.optional) return '';
        throw new Error(`env ${entry.name}: ${kind}/${ref.name} has no key ${ref.key}`);
      }
      return value;
    }
    throw new Error(`env ${entry.name}: no value the node agent can resolve`);
  }

  // ------------------------------------------------------------- stopping

  /**
   * The ReplicaSet controller's choice: pods not ready go first, then the
   * lowest controller.kubernetes.io/pod-deletion-cost, then the newest.
   */
  private async chooseVictims(active: AgentPod[], count: number): Promise<AgentPod[]> {
    const listed = await this.api.client.request<{ items: Pod[] }>('GET', this.podsPath(), {
      query: { labelSelector: `app.kubernetes.io/instance=${this.options.deployment}` },
    });
    const costs = new Map(
      listed.items.map((pod) => [
        pod.metadata?.name ?? '',
        pod.metadata?.annotations?.[POD_DELETION_COST],
      ]),
    );
    const costOf = (pod: AgentPod) => {
      const value = Number(costs.get(pod.name) ?? 0);
      return Number.isFinite(value) ? value : 0;
    };
    const ranked = [...active].sort(
      (a, b) =>
        Number(a.ready) - Number(b.ready) || costOf(a) - costOf(b) || b.createdAt - a.createdAt,
    );
    const chosen = ranked.slice(0, count);
    for (const pod of chosen) pod.deletionCostWhenChosen = costs.get(pod.name);
    return chosen;
  }

  /** Deletes the Pod (it turns Terminating), then SIGTERM; SIGKILL once the grace period ends. */
  private async terminate(pod: AgentPod): Promise<void> {
    pod.terminatingAt = Date.now();
    try {
      await this.api.client.request('DELETE', this.podsPath(pod.name), {
        query: { gracePeriodSeconds: pod.graceSeconds },
      });
    } catch (error) {
      if (!isNotFound(error)) this.errors.push({ at: Date.now(), message: message(error) });
    }
    pod.process.signal('SIGTERM');
    const killer = setTimeout(() => {
      if (pod.exit !== undefined) return;
      pod.killed = true;
      pod.process.signal('SIGKILL');
    }, pod.graceSeconds * 1000);
    void pod.process.exited.then(() => clearTimeout(killer));
  }

  /** The kubelet's last word: the Pod object goes once its container has exited. */
  private async exited(pod: AgentPod, exit: Exit): Promise<void> {
    pod.exit = exit;
    pod.exitedAt = Date.now();
    pod.ready = false;
    if (pod.terminatingAt === undefined) pod.crashed = true;
    try {
      await this.api.client.request('DELETE', this.podsPath(pod.name), {
        query: { gracePeriodSeconds: 0 },
      });
    } catch (error) {
      if (!isNotFound(error) && !this.stopped) {
        this.errors.push({ at: Date.now(), message: message(error) });
      }
    }
    this.kick();
  }

  // ------------------------------------------------------------ readiness

  private scheduleProbe(): void {
    if (this.stopped) return;
    this.probeTimer = setTimeout(() => {
      void this.probeAll().finally(() => this.scheduleProbe());
    }, this.probeIntervalMs);
  }

  private async probeAll(): Promise<void> {
    if (this.probing) return;
    this.probing = true;
    try {
      let changed = false;
      await Promise.all(
        this.active.map(async (pod) => {
          const ready = pod.process.running && (await probe(pod.port));
          if (ready === pod.ready || pod.exit !== undefined) return;
          pod.ready = ready;
          if (ready) pod.readyAt ??= Date.now();
          changed = true;
          await this.patchPodStatus(pod);
        }),
      );
      if (changed) this.kick();
    } finally {
      this.probing = false;
    }
  }

  private async patchPodStatus(pod: AgentPod): Promise<void> {
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    const ready = pod.ready ? 'True' : 'False';
    try {
      await this.api.client.request('PATCH', `${this.podsPath(pod.name)}/status`, {
        body: {
          status: {
            phase: 'Running',
            podIP: '127.0.0.1',
            startTime: new Date(pod.createdAt).toISOString().replace(/\.\d{3}Z$/, 'Z'),
            conditions: [
              { type: 'Ready', status: ready, lastTransitionTime: now },
              { type: 'ContainersReady', status: ready, lastTransitionTime: now },
            ],
          },
        },
        contentType: 'application/merge-patch+json',
      });
    } catch (error) {
      // A Pod deleted meanwhile has no status to report.
      if (!isNotFound(error)) this.errors.push({ at: Date.now(), message: message(error) });
    }
  }

  /** The Deployment controller's report: written only when it changed. */
  private async reportStatus(deployment: Deployment, wanted: number): Promise<void> {
    const active = this.active;
    const ready = active.filter((pod) => pod.ready).length;
    const status: ReportedStatus = {
      replicas: active.length,
      readyReplicas: ready,
      availableReplicas: ready,
      updatedReplicas: active.length,
      unavailableReplicas: Math.max(0, wanted - ready),
      observedGeneration: deployment.metadata?.generation,
    };
    const text = JSON.stringify(status);
    if (text === this.lastReport) return;
    await this.api.client.request(
      'PATCH',
      `/apis/apps/v1/namespaces/${this.options.namespace}/deployments/${this.options.deployment}/status`,
      { body: { status }, contentType: 'application/merge-patch+json' },
    );
    this.lastReport = text;
    this.reported.push({ ...status, at: Date.now() });
  }
}
