/**
 * The chart's RBAC is enough for the operator, and no more than it needs.
 *
 * The operator runs in this process against a real kube-apiserver as the
 * chart's ServiceAccount (a token from the TokenRequest API), bound only to
 * the ClusterRole and leader-election Role the chart renders. One scenario
 * touches every permission: it wins the Lease, sees a pool created after it
 * synced (watch), reads the pool's Redis URL from a Secret, creates the worker
 * Deployment and scales it up from the backlog, writes the pool's status,
 * records Events, and before scaling down lists the pool's pods and marks
 * them with a deletion cost (through the chart's admission policy that lets
 * it change only that annotation). With every rule as rendered the scenario
 * passes and nothing is refused; with any single verb taken away it is
 * refused that exact call.
 */
import { Writable } from 'node:stream';
import type { KubeConfig } from '@kubernetes/client-node';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../local/process.js';
import type { OperatorConfig } from '../../operator/config.js';
import { type RunningOperator, startOperator } from '../../operator/main.js';
import { OperatorMetrics } from '../../operator/metrics.js';
import { UNRESTRICTED_POLICY } from '../../operator/render/policy.js';
import { type TestRedis, testRedis } from '../support/isolation.js';
import { KubeApiServer } from '../support/kube-apiserver.js';
import {
  apply,
  ensureNamespaces,
  find,
  helmTemplate,
  kubectl,
  kubectlPath,
  type Manifest,
  named,
} from './helm.js';

const RELEASE_NS = 'flowpool-system';
const GROUP = 'workflow-workers';
const POD_DELETION_COST = 'controller.kubernetes.io/pod-deletion-cost';
const POOLS = (ns: string) => `/apis/flowpool.dev/v1alpha1/namespaces/${ns}/workflowworkerpools`;

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}
type RoleManifest = Manifest & { rules: Rule[] };

let kube: KubeApiServer;
let redis: TestRedis;
let variant = 0;

beforeAll(async () => {
  [kube, redis] = await Promise.all([KubeApiServer.start(), testRedis()]);
  await apply(kube, [named(helmTemplate(), 'CustomResourceDefinition')]);
  await ensureNamespaces(kube, [RELEASE_NS]);
});

afterAll(async () => {
  await redis?.close();
  await kube?.destroy();
});

type Roles = { clusterRole: RoleManifest; leaseRole: RoleManifest; secretRole?: RoleManifest };

const GUARD_KINDS = ['ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding'];

/**
 * The chart's operator identity and permissions, under names of their own for
 * one run: a ClusterRole, or with `watchNamespace` a Role in that namespace
 * (kept under the key clusterRole: the rules the operator works with), and
 * when watching every namespace a Role for the Secrets of `poolNamespace`.
 * `deletionCost` sets operator.podDeletionCost (default: the chart's default,
 * on), which brings pods patch and the policy that guards it.
 */
function chartRbac(
  name: string,
  options: { watchNamespace?: string; poolNamespace?: string; deletionCost?: boolean } = {},
): Roles & {
  serviceAccount: Manifest;
  bindings: Manifest[];
  /** The policy and binding that narrow pods patch to the deletion cost (none when off). */
  podGuard: Manifest[];
  lease: Manifest;
  leaseName: string;
} {
  const { watchNamespace, poolNamespace, deletionCost } = options;
  const manifests = helmTemplate({
    releaseName: name,
    namespace: RELEASE_NS,
    values: {
      fullnameOverride: name,
      operator: {
        watchNamespace: watchNamespace ?? '',
        ...(deletionCost === undefined ? {} : { podDeletionCost: { enabled: deletionCost } }),
      },
      rbac: { secretNamespaces: poolNamespace ? [poolNamespace] : [] },
    },
  });
  const leaseName = `${name}-operator`;
  const kind = watchNamespace ? 'Role' : 'ClusterRole';
  const role = manifests.find(
    (m) =>
      m.kind === kind &&
      m.metadata.name === `${name}-operator` &&
      (!watchNamespace || m.metadata.namespace === watchNamespace),
  );
  if (!role) throw new Error(`the chart rendered no ${kind} ${name}-operator`);
  return {
    serviceAccount: named(manifests, 'ServiceAccount', `${name}-operator`),
    clusterRole: role as RoleManifest,
    leaseRole: named(manifests, 'Role', `${name}-operator-leader-election`) as RoleManifest,
    secretRole: find(manifests, 'Role', `${name}-operator-secrets`) as RoleManifest | undefined,
    bindings: [
      named(manifests, `${kind}Binding`, `${name}-operator`),
      named(manifests, 'RoleBinding', `${name}-operator-leader-election`),
      ...(watchNamespace ? [] : [named(manifests, 'RoleBinding', `${name}-operator-secrets`)]),
    ],
    podGuard: manifests.filter(
      (m) => GUARD_KINDS.includes(m.kind) && m.metadata.name === `${name}-pod-deletion-cost`,
    ),
    lease: named(manifests, 'Lease', leaseName),
    leaseName,
  };
}

/** A copy of `role` without `verb` on `resource` (the rule goes when it has no verb left). */
function without(role: RoleManifest, resource: string, verb: string): RoleManifest {
  let found = false;
  const rules = role.rules.flatMap((rule) => {
    if (!rule.resources.includes(resource) || !rule.verbs.includes(verb)) return [rule];
    found = true;
    const verbs = rule.verbs.filter((v) => v !== verb);
    return verbs.length > 0 ? [{ ...rule, verbs }] : [];
  });
  if (!found) throw new Error(`${role.metadata.name} grants no ${verb} on ${resource}`);
  return { ...role, rules };
}

/**
 * Waits until the operator's ServiceAccount is refused a label change of
 * `pod` (dry run): the chart's pod guard is loaded (or RBAC refuses pods
 * patch outright), so the deletion costs the scenario sees went through it.
 */
async function waitForPodGuard(namespace: string, pod: string, kubeConfig: KubeConfig) {
  const token = kubeConfig.getCurrentUser()?.token;
  if (!token) throw new Error('the ServiceAccount kubeconfig has no token');
  await waitFor(
    "the chart's pod guard to take effect",
    async () => {
      const answer = await kube.request(
        'PATCH',
        `/api/v1/namespaces/${namespace}/pods/${pod}?dryRun=All`,
        { token, body: { metadata: { labels: { probe: 'x' } } } },
      );
      return answer.status === 403;
    },
    { timeoutMs: 60_000, intervalMs: 200 },
  );
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs: number, stop: () => boolean) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (stop() || Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** The message of a JSON log line (msg and err), unescaped. */
function logText(line: string): string {
  try {
    const entry = JSON.parse(line) as { msg?: unknown; err?: unknown };
    return [entry.msg, entry.err].filter((part) => part !== undefined).join(': ');
  } catch {
    return line;
  }
}

interface Outcome {
  /** The first step that did not happen, or undefined when all did. */
  failedStep: string | undefined;
  /** Log lines of calls the API server refused (HTTP 403). */
  refused: string[];
}

/**
 * Runs the operator as the chart's ServiceAccount with `clusterRole` and
 * `leaseRole` (the chart's, or with a verb removed) through the scenario.
 * Stops at the first step that does not happen, or as soon as a call is
 * refused (a refusal is failure enough).
 */
async function scenario(
  change: (roles: Roles) => Roles,
  stepTimeoutMs = 20_000,
  /** Runs once the scenario passed, while the operator still runs and the pool exists. */
  inspect?: (where: { namespace: string; pool: string }) => Promise<void>,
  /** Install the operator for the pool's namespace only (operator.watchNamespace). */
  namespaced = false,
  /** operator.podDeletionCost.enabled: the scale down marks pods first. */
  deletionCost = true,
): Promise<Outcome> {
  const name = `rbac${++variant}`;
  const namespace = `pools-${name}`;
  await ensureNamespaces(kube, [namespace]);
  const rbac = chartRbac(
    name,
    namespaced
      ? { watchNamespace: namespace, deletionCost }
      : { poolNamespace: namespace, deletionCost },
  );
  const roles = change({
    clusterRole: rbac.clusterRole,
    leaseRole: rbac.leaseRole,
    secretRole: rbac.secretRole,
  });
  expect(rbac.podGuard).toHaveLength(deletionCost ? 2 : 0);
  await apply(kube, [
    rbac.serviceAccount,
    roles.clusterRole,
    roles.leaseRole,
    ...(roles.secretRole ? [roles.secretRole] : []),
    ...rbac.bindings,
    ...rbac.podGuard,
    rbac.lease,
  ]);
  const kubeConfig = await kube.serviceAccountConfig(RELEASE_NS, rbac.serviceAccount.metadata.name);

  const lines: string[] = [];
  const refused: string[] = [];
  const logger = pino(
    { level: 'debug' },
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n')) {
          if (!line) continue;
          lines.push(line);
          if (/forbidden|\b403\b/i.test(line)) refused.push(logText(line));
        }
        done();
      },
    }),
  );
  const config: OperatorConfig = {
    kube: { kind: 'file', path: kube.kubeconfigPath },
    watchNamespace: namespaced ? namespace : undefined,
    port: 0,
    logLevel: 'debug',
    leaderElection: true,
    leaseNamespace: RELEASE_NS,
    leaseName: rbac.leaseName,
    identity: `${name}-0`,
    resyncSeconds: 3600,
    leaseDurationSeconds: 15,
    renewDeadlineSeconds: 10,
    retryPeriodSeconds: 2,
    // As the chart runs it: the chart creates the Lease.
    leaseCreate: false,
    podDeletionCost: deletionCost,
    podPolicy: UNRESTRICTED_POLICY,
  };

  // What the pool works on: a Secret with the Redis URL, a stream with a
  // backlog of 30 (one entry pending at a consumer), and that consumer's pod.
  const pool = 'workers';
  const pod = `${pool}-pod-0`;
  const stream = `${redis.prefix}${name}:events:${pool}`;
  await redis.redis.xgroup('CREATE', stream, GROUP, '0', 'MKSTREAM');
  for (let i = 0; i < 30; i++) await redis.redis.xadd(stream, '*', 'n', String(i));
  await redis.redis.xreadgroup('GROUP', GROUP, pod, 'COUNT', 1, 'STREAMS', stream, '>');
  const created = await Promise.all([
    kube.request('POST', `/api/v1/namespaces/${namespace}/secrets`, {
      body: {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'redis' },
        stringData: { url: redis.url },
      },
    }),
    kube.request('POST', `/api/v1/namespaces/${namespace}/pods`, {
      body: {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          name: pod,
          labels: {
            'app.kubernetes.io/name': 'flowpool-worker',
            'app.kubernetes.io/instance': pool,
            'flowpool.dev/pool': pool,
          },
        },
        spec: { containers: [{ name: 'worker', image: 'flowpool:0.1.0' }] },
      },
    }),
  ]);
  for (const answer of created) expect(answer.status, JSON.stringify(answer.body)).toBe(201);
  if (deletionCost) await waitForPodGuard(namespace, pod, kubeConfig);

  let operator: RunningOperator | undefined;
  let failedStep: string | undefined;
  const stop = () => refused.length > 0;
  const step = async (what: string, check: () => Promise<boolean>) => {
    if (failedStep) return;
    if (!(await waitUntil(check, stepTimeoutMs, stop))) failedStep = what;
  };
  const deployment = async () => {
    const answer = await kube.request<{ spec: { replicas: number } }>(
      'GET',
      `/apis/apps/v1/namespaces/${namespace}/deployments/${pool}`,
    );
    return answer.status === 200 ? answer.body : undefined;
  };
  try {
    operator = await startOperator(config, {
      logger,
      kubeConfig,
      metrics: new OperatorMetrics(false),
      lease: { leaseDurationMs: 3_000, renewDeadlineMs: 2_000, retryPeriodMs: 300 },
    });
    const running = operator;
    await step('lead', async () => running.isLeader());
    await step('list pools and Deployments', async () => running.controller?.synced === true);
    // Created after the lists: only the watch can tell the operator.
    const poolCreated = await kube.request('POST', POOLS(namespace), {
      body: {
        apiVersion: 'flowpool.dev/v1alpha1',
        kind: 'WorkflowWorkerPool',
        metadata: { name: pool },
        spec: {
          image: 'flowpool:0.1.0',
          redis: { urlSecretRef: { name: 'redis', key: 'url' }, stream, consumerGroup: GROUP },
          database: { url: 'postgres://flowpool@postgres:5432/flowpool' },
          autoscaling: {
            minReplicas: 1,
            maxReplicas: 3,
            targetBacklogPerReplica: 10,
            pollIntervalSeconds: 1,
            scaleDownStabilizationSeconds: 0,
          },
        },
      },
    });
    expect(poolCreated.status, JSON.stringify(poolCreated.body)).toBe(201);
    await step('create the Deployment and scale it to 3', async () => {
      return (await deployment())?.spec.replicas === 3;
    });
    await step('write the pool status', async () => {
      const answer = await kube.request<{
        status?: { desiredReplicas?: number; conditions?: Array<{ type: string; status: string }> };
      }>('GET', `${POOLS(namespace)}/${pool}`);
      const status = answer.body.status;
      return (
        status?.desiredReplicas === 3 &&
        (status.conditions ?? []).some((c) => c.type === 'StreamReachable' && c.status === 'True')
      );
    });
    await step('record Events on the pool', async () => {
      const answer = await kube.request<{ items: unknown[] }>(
        'GET',
        `/api/v1/namespaces/${namespace}/events?fieldSelector=involvedObject.name%3D${pool}`,
      );
      return answer.body.items.length > 0;
    });
    // The backlog is gone: the pool scales down, marking its pods first.
    await redis.redis.xgroup('SETID', stream, GROUP, '$');
    const pending = (await redis.redis.xpending(stream, GROUP, '-', '+', 10)) as Array<
      [string, ...unknown[]]
    >;
    for (const [id] of pending) await redis.redis.xack(stream, GROUP, id);
    await step(
      deletionCost
        ? 'mark the pods with a deletion cost and scale down'
        : 'scale down without marking the pods',
      async () => {
        const answer = await kube.request<{ metadata: { annotations?: Record<string, string> } }>(
          'GET',
          `/api/v1/namespaces/${namespace}/pods/${pod}`,
        );
        const marked = answer.body.metadata.annotations?.[POD_DELETION_COST] !== undefined;
        return marked === deletionCost && (await deployment())?.spec.replicas === 1;
      },
    );
    if (!failedStep && refused.length === 0) await inspect?.({ namespace, pool });
  } finally {
    await operator?.stop();
    // Leave nothing for the next run's operator to work on.
    await kube.request('DELETE', `${POOLS(namespace)}/${pool}`);
  }
  if (failedStep && refused.length === 0) {
    failedStep += `\n--- operator log (last lines)\n${lines.slice(-15).map(logText).join('\n')}`;
  }
  return { failedStep, refused };
}

type RoleKey = 'clusterRole' | 'leaseRole' | 'secretRole';

/**
 * Every (resource, verb) the chart grants by default (deletion costs on), from the
 * ClusterRole, the Lease Role and the Secrets Role of a pool namespace.
 */
function grants(): Array<{ role: RoleKey; resource: string; verb: string }> {
  const rbac = chartRbac('listing', { poolNamespace: 'pools' });
  const out: Array<{ role: RoleKey; resource: string; verb: string }> = [];
  for (const role of ['clusterRole', 'leaseRole', 'secretRole'] as const) {
    for (const rule of rbac[role]?.rules ?? []) {
      for (const resource of rule.resources) {
        for (const verb of rule.verbs) out.push({ role, resource, verb });
      }
    }
  }
  return out;
}

describe("the chart's RBAC and the operator", () => {
  /** What kubectl showed of the pool the operator had just scaled (or why it could not run). */
  const seen: Record<string, string> = {};
  let kubectlMissing: unknown;

  it('is enough: the operator reconciles and scales a pool, and nothing is refused', async () => {
    const outcome = await scenario(
      (roles) => roles,
      20_000,
      async ({ namespace, pool }) => {
        try {
          kubectlPath();
        } catch (error) {
          kubectlMissing = error;
          return;
        }
        const run = (args: string[]) => {
          const result = kubectl(kube, ['--namespace', namespace, ...args]);
          expect(result.status, result.stderr).toBe(0);
          return result.stdout;
        };
        // The status catches up with the last scale down a poll or two after the Deployment.
        await waitFor(
          'the pool status to show the scale down',
          () => {
            seen.get = run(['get', 'wwp']);
            const row = seen.get.trim().split('\n')[1] ?? '';
            return row.split(/\s+/).slice(1, 4).join(' ') === '1 0 0';
          },
          { timeoutMs: 30_000, intervalMs: 250 },
        );
        seen.wide = run(['get', 'wwp', '-o', 'wide']);
        seen.describe = run(['describe', 'wwp', pool]);
        seen.explain = run(['explain', 'workflowworkerpools.spec.autoscaling']);
      },
    );
    expect(outcome.refused).toEqual([]);
    expect(outcome.failedStep).toBeUndefined();
  });

  it('shows users the pool through kubectl get, describe and explain', () => {
    if (kubectlMissing) throw kubectlMissing;
    expect(seen.get, 'the scenario above did not get this far').toBeDefined();
    // kubectl get wwp: the scaler's figures at a glance.
    const [header, row] = seen.get!.trim().split('\n');
    expect(header!.split(/\s{2,}/)).toEqual([
      'NAME',
      'DESIRED',
      'READY',
      'BACKLOG',
      'MIN',
      'MAX',
      'AGE',
    ]);
    expect(row!.split(/\s+/).slice(0, 6)).toEqual(['workers', '1', '0', '0', '1', '3']);
    expect(seen.wide!.split('\n')[0]).toMatch(/LAG SOURCE\s+PAUSED/);
    // kubectl describe wwp: conditions and the events behind each scale decision.
    expect(seen.describe).toMatch(/Conditions:/);
    for (const condition of ['Ready', 'Scaling', 'StreamReachable']) {
      expect(seen.describe).toMatch(new RegExp(`Type:\\s+${condition}`));
    }
    expect(seen.describe).toMatch(/Last Scale Reason:/);
    expect(seen.describe).toMatch(/Events:/);
    // Up to 3 for a backlog of 30 (at creation, or just after it), then down to 1 once it is gone.
    expect(seen.describe).toMatch(
      /Normal\s+(ScaleUp\s+.*flowpool-operator\s+scaled \d → 3: .*backlog 30|DeploymentCreated\s+.*with 3 replicas)/,
    );
    expect(seen.describe).toMatch(
      /Normal\s+ScaleDown\s+.*flowpool-operator\s+scaled 3 → 1: .*backlog 0/,
    );
    // kubectl explain wwp.spec.autoscaling: every field described.
    for (const field of [
      'enabled',
      'minReplicas',
      'maxReplicas',
      'targetBacklogPerReplica',
      'activationBacklog',
      'pollIntervalSeconds',
      'scaleDownStabilizationSeconds',
      'scaleToZeroCooldownSeconds',
    ]) {
      expect(seen.explain).toMatch(new RegExp(`^\\s+${field}\\s+<\\w+>\\n\\s+\\S`, 'm'));
    }
  });

  it('is enough with operator.podDeletionCost off, without pods patch: the scale down leaves pods unmarked', async () => {
    const off = chartRbac('costs-off', { poolNamespace: 'pools', deletionCost: false });
    expect(off.clusterRole.rules.find((rule) => rule.resources.includes('pods'))?.verbs).toEqual([
      'list',
    ]);
    const defaults = chartRbac('defaults', { poolNamespace: 'pools' });
    expect(
      defaults.clusterRole.rules.find((rule) => rule.resources.includes('pods'))?.verbs,
    ).toEqual(['list', 'patch']);
    const outcome = await scenario((roles) => roles, 20_000, undefined, false, false);
    expect(outcome.refused).toEqual([]);
    expect(outcome.failedStep).toBeUndefined();
  });

  it('is enough with operator.watchNamespace: a Role in that namespace', async () => {
    const outcome = await scenario((roles) => roles, 20_000, undefined, true);
    expect(outcome.refused).toEqual([]);
    expect(outcome.failedStep).toBeUndefined();
  });

  const everyGrant = grants();

  it('grants only what the operator uses (no verb to spare)', () => {
    expect(everyGrant.map(({ resource, verb }) => `${verb} ${resource}`).sort()).toEqual(
      [
        'create deployments',
        'create events',
        'get deployments',
        'get leases',
        'get secrets',
        'list deployments',
        'list pods',
        'list workflowworkerpools',
        'patch deployments',
        'patch pods',
        'patch workflowworkerpools/status',
        'update leases',
        'update workflowworkerpools/finalizers',
        'watch deployments',
        'watch workflowworkerpools',
      ].sort(),
    );
  });

  it.each(everyGrant)(
    'fails without $verb on $resource: that call is refused',
    async ({ role, resource, verb }) => {
      const outcome = await scenario((roles) => ({
        ...roles,
        [role]: without(roles[role]!, resource, verb),
      }));
      // The finalizers check is the admission plugin's, which words its refusal itself.
      const refusal =
        resource === 'workflowworkerpools/finalizers'
          ? (line: string) => line.includes("can't set finalizers on")
          : (line: string) =>
              line.includes(`cannot ${verb} resource`) && line.includes(`"${resource}"`);
      const refusedThat = outcome.refused.filter(refusal);
      expect(
        refusedThat.length,
        `expected the operator to be refused ${verb} ${resource}; failed step: ${outcome.failedStep}; refused: ${outcome.refused.join('\n')}`,
      ).toBeGreaterThan(0);
    },
  );
});
