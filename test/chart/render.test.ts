/**
 * The chart as helm renders it: lint and template pass for the default values
 * and every values file the chart ships for testing (charts/flowpool/ci/ and
 * the kind script's values), and what they render keeps its promises
 * (restricted pods, least-privilege RBAC, the CRD equal to crds/, values
 * documented, the dashboard's metrics real).
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ApiMetrics } from '../../api/metrics.js';
import { OperatorMetrics } from '../../operator/metrics.js';
import { WorkerMetrics } from '../../worker/observability/metrics.js';
import {
  CHART_DIR,
  ciValuesFiles,
  E2E_VALUES,
  find,
  helmLint,
  helmTemplate,
  helmTemplateRaw,
  type Manifest,
  named,
  REPO_ROOT,
} from './helm.js';

const CRD_FILE = 'workflowworkerpools.flowpool.dev.yaml';
const POOL_KIND = 'flowpool.dev/v1alpha1/WorkflowWorkerPool';

type Json = Record<string, unknown>;
interface Container {
  name: string;
  image: string;
  securityContext?: Json;
  resources?: { requests?: Json; limits?: Json };
  livenessProbe?: Json;
  readinessProbe?: Json;
  env?: Array<{ name: string; value?: string; valueFrom?: Json }>;
}
interface PodSpec {
  securityContext?: Json;
  containers: Container[];
  initContainers?: Container[];
  automountServiceAccountToken?: boolean;
  serviceAccountName?: string;
}
interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

function podSpec(manifest: Manifest): PodSpec {
  return (manifest.spec as { template: { spec: PodSpec } }).template.spec;
}

function rules(manifest: Manifest): Rule[] {
  return (manifest as unknown as { rules: Rule[] }).rules;
}

function envOf(container: Container): Record<string, string | Json | undefined> {
  return Object.fromEntries((container.env ?? []).map((e) => [e.name, e.value ?? e.valueFrom]));
}

const valueSets: Array<{ name: string; files: string[] }> = [
  { name: 'default values', files: [] },
  ...ciValuesFiles().map((file) => ({ name: `ci/${path.basename(file)}`, files: [file] })),
  { name: 'test/e2e/values.yaml', files: [E2E_VALUES] },
];

describe('helm lint and template', () => {
  it.each(valueSets)('lint --strict passes with $name', ({ files }) => {
    const result = helmLint({ valuesFiles: files });
    expect(result.status, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain('0 chart(s) failed');
    expect(result.stdout).not.toMatch(/\[(WARNING|ERROR)\]/);
  });

  it.each(valueSets)(
    'template renders restricted, resourced, probed pods with $name',
    ({ files }) => {
      const manifests = helmTemplate({ valuesFiles: files });
      const workloads = manifests.filter((m) => m.kind === 'Deployment' || m.kind === 'Job');
      expect(workloads.length).toBeGreaterThan(0);
      for (const workload of workloads) {
        const spec = podSpec(workload);
        const where = `${workload.kind}/${workload.metadata.name}`;
        expect(spec.securityContext, where).toMatchObject({
          runAsNonRoot: true,
          seccompProfile: { type: 'RuntimeDefault' },
        });
        for (const container of [...spec.containers, ...(spec.initContainers ?? [])]) {
          const at = `${where} container ${container.name}`;
          expect(container.securityContext, at).toMatchObject({
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            capabilities: { drop: ['ALL'] },
            runAsNonRoot: true,
          });
          expect(container.resources?.requests, at).toBeDefined();
          expect(container.resources?.limits?.memory, at).toBeDefined();
        }
        if (workload.kind === 'Deployment') {
          const [main] = spec.containers;
          expect(main?.readinessProbe, where).toMatchObject({ httpGet: { path: '/readyz' } });
        }
        // Only the operator talks to the Kubernetes API.
        const isOperator = workload.metadata.labels?.['app.kubernetes.io/component'] === 'operator';
        expect(spec.automountServiceAccountToken, where).toBe(isOperator);
      }
    },
  );
});

describe('the CRD', () => {
  it('ships a copy identical to crds/ (copy crds/*.yaml to charts/flowpool/files/crds/ after npm run gen:crd)', () => {
    const generated = fs.readFileSync(path.join(REPO_ROOT, 'crds', CRD_FILE), 'utf8');
    const shipped = fs.readFileSync(path.join(CHART_DIR, 'files/crds', CRD_FILE), 'utf8');
    expect(shipped).toBe(generated);
    expect(fs.readdirSync(path.join(CHART_DIR, 'files/crds'))).toEqual(
      fs.readdirSync(path.join(REPO_ROOT, 'crds')).filter((file) => file.endsWith('.yaml')),
    );
  });

  it('renders the generated CRD, kept on uninstall', () => {
    const generated = parse(fs.readFileSync(path.join(REPO_ROOT, 'crds', CRD_FILE), 'utf8'));
    const crd = named(helmTemplate(), 'CustomResourceDefinition');
    expect(crd.spec).toEqual(generated.spec);
    expect(crd.metadata.name).toBe(generated.metadata.name);
    expect(crd.metadata.annotations).toEqual({ 'helm.sh/resource-policy': 'keep' });
    expect(crd.metadata.labels).toMatchObject(generated.metadata.labels);
  });

  it('can be skipped, or left to go with the release', () => {
    expect(
      find(helmTemplate({ values: { crds: { install: false } } }), 'CustomResourceDefinition'),
    ).toBeUndefined();
    const crd = named(
      helmTemplate({ values: { crds: { keep: false } } }),
      'CustomResourceDefinition',
    );
    expect(crd.metadata.annotations?.['helm.sh/resource-policy']).toBeUndefined();
  });
});

describe('the operator', () => {
  it('runs two leader-elected replicas with its environment contract', () => {
    const manifests = helmTemplate();
    const deployment = named(manifests, 'Deployment', 'flowpool-operator');
    expect((deployment.spec as { replicas: number }).replicas).toBe(2);
    const spec = podSpec(deployment);
    expect(spec.serviceAccountName).toBe('flowpool-operator');
    const [container] = spec.containers;
    expect(container?.image).toBe('flowpool:0.1.0');
    expect((container as unknown as { args: string[] }).args).toEqual(['operator']);
    expect(envOf(container!)).toMatchObject({
      WATCH_NAMESPACE: '',
      LEADER_ELECTION: 'true',
      LEASE_NAME: 'flowpool-operator',
      LEASE_NAMESPACE: 'flowpool-system',
      POD_NAME: { fieldRef: { fieldPath: 'metadata.name' } },
      POD_NAMESPACE: { fieldRef: { fieldPath: 'metadata.namespace' } },
      PORT: '8080',
      LOG_LEVEL: 'info',
      // Pools may run the chart's own image (any tag) as their namespace's default account.
      ALLOWED_IMAGE_PREFIXES: 'flowpool',
      ALLOWED_SERVICE_ACCOUNTS: '',
    });
    expect(container?.livenessProbe).toMatchObject({ httpGet: { path: '/healthz' } });
    const service = named(manifests, 'Service', 'flowpool-operator');
    expect(service.spec).toMatchObject({ ports: [{ name: 'http', targetPort: 'http' }] });
    expect(named(manifests, 'PodDisruptionBudget', 'flowpool-operator').spec).toMatchObject({
      maxUnavailable: 1,
    });
    // A single replica needs no disruption budget.
    const single = helmTemplate({
      values: { operator: { replicas: 1, leaderElection: { enabled: false } } },
    });
    expect(find(single, 'PodDisruptionBudget')).toBeUndefined();
    expect(find(single, 'Role', 'flowpool-operator-leader-election')).toBeUndefined();
    expect(find(single, 'Lease')).toBeUndefined();
  });

  it('gets a ClusterRole without wildcards when it watches every namespace', () => {
    const manifests = helmTemplate();
    const role = named(manifests, 'ClusterRole');
    expect(find(manifests, 'RoleBinding', 'flowpool-operator')).toBeUndefined();
    for (const rule of rules(role)) {
      expect(rule.verbs).not.toContain('*');
      expect(rule.resources).not.toContain('*');
      expect(rule.apiGroups).not.toContain('*');
      expect(rule.verbs).not.toContain('delete');
      expect(rule.verbs).not.toContain('deletecollection');
    }
    // Narrow by default: no Secrets anywhere but the release namespace; pods patch
    // (for deletion costs) comes with the admission policy that narrows it to that.
    expect(rules(role).some((rule) => rule.resources.includes('secrets'))).toBe(false);
    expect(rules(role).find((rule) => rule.resources.includes('pods'))?.verbs).toEqual([
      'list',
      'patch',
    ]);
    named(manifests, 'ValidatingAdmissionPolicy', 'flowpool-pod-deletion-cost');
    const secretRole = named(manifests, 'Role', 'flowpool-operator-secrets');
    expect(secretRole.metadata.namespace).toBe('flowpool-system');
    expect(rules(secretRole)).toEqual([
      { apiGroups: [''], resources: ['secrets'], verbs: ['get'] },
    ]);
    expect(named(manifests, 'RoleBinding', 'flowpool-operator-secrets')).toMatchObject({
      metadata: { namespace: 'flowpool-system' },
      roleRef: { kind: 'Role', name: 'flowpool-operator-secrets' },
      subjects: [
        { kind: 'ServiceAccount', name: 'flowpool-operator', namespace: 'flowpool-system' },
      ],
    });
    const container = podSpec(named(manifests, 'Deployment', 'flowpool-operator')).containers[0]!;
    expect(envOf(container).POD_DELETION_COST).toBe('true');
    const binding = named(manifests, 'ClusterRoleBinding');
    expect(binding).toMatchObject({
      roleRef: { kind: 'ClusterRole', name: 'flowpool-operator' },
      subjects: [
        { kind: 'ServiceAccount', name: 'flowpool-operator', namespace: 'flowpool-system' },
      ],
    });
  });

  it('creates the Lease itself and grants only get and update of it, by name', () => {
    const manifests = helmTemplate();
    const role = named(manifests, 'Role', 'flowpool-operator-leader-election');
    expect(role.metadata.namespace).toBe('flowpool-system');
    expect(rules(role)).toEqual([
      {
        apiGroups: ['coordination.k8s.io'],
        resources: ['leases'],
        resourceNames: ['flowpool-operator'],
        verbs: ['get', 'update'],
      },
    ]);
    const lease = named(manifests, 'Lease', 'flowpool-operator');
    expect(lease.metadata.namespace).toBe('flowpool-system');
    expect(lease.spec).toEqual({});
    const container = podSpec(named(manifests, 'Deployment', 'flowpool-operator')).containers[0]!;
    expect(envOf(container).LEASE_CREATE).toBe('false');
    const unelected = helmTemplate({
      values: { operator: { replicas: 1, leaderElection: { enabled: false } } },
    });
    expect(find(unelected, 'Lease')).toBeUndefined();
  });

  it('gets a Role in its namespace when it watches one, and may be kept from Secrets', () => {
    const manifests = helmTemplate({
      values: { operator: { watchNamespace: 'team-a' }, rbac: { readSecrets: false } },
    });
    expect(find(manifests, 'ClusterRole')).toBeUndefined();
    expect(find(manifests, 'ClusterRoleBinding')).toBeUndefined();
    const role = named(manifests, 'Role', 'flowpool-operator');
    expect(role.metadata.namespace).toBe('team-a');
    expect(rules(role).some((rule) => rule.resources.includes('secrets'))).toBe(false);
    const binding = named(manifests, 'RoleBinding', 'flowpool-operator');
    expect(binding.metadata.namespace).toBe('team-a');
    const container = podSpec(named(manifests, 'Deployment', 'flowpool-operator')).containers[0]!;
    expect(envOf(container).WATCH_NAMESPACE).toBe('team-a');
  });

  it('passes the allow-lists of images and ServiceAccounts to the operator', () => {
    const container = podSpec(
      named(
        helmTemplate({
          values: {
            operator: {
              allowedImagePrefixes: ['ghcr.io/acme/', 'flowpool'],
              allowedServiceAccounts: ['workers', 'team-a/billing'],
            },
          },
        }),
        'Deployment',
        'flowpool-operator',
      ),
    ).containers[0]!;
    expect(envOf(container)).toMatchObject({
      ALLOWED_IMAGE_PREFIXES: 'ghcr.io/acme/,flowpool',
      ALLOWED_SERVICE_ACCOUNTS: 'workers,team-a/billing',
    });
  });

  it('ships the admission policy on pools unless turned off, bound to the watched namespace', () => {
    const manifests = helmTemplate({ values: { operator: { watchNamespace: 'team-a' } } });
    named(manifests, 'ValidatingAdmissionPolicy', 'flowpool-pool-author');
    expect(
      named(manifests, 'ValidatingAdmissionPolicyBinding', 'flowpool-pool-author').spec,
    ).toMatchObject({
      policyName: 'flowpool-pool-author',
      validationActions: ['Deny'],
      matchResources: {
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'team-a' } },
      },
    });
    const off = helmTemplate({ values: { admissionPolicy: { enabled: false } } });
    expect(find(off, 'ValidatingAdmissionPolicy')).toBeUndefined();
    expect(find(off, 'ValidatingAdmissionPolicyBinding')).toBeUndefined();
  });

  it('limits Secret reads to the namespaces and names given', () => {
    const manifests = helmTemplate({
      values: {
        rbac: { secretNamespaces: ['team-a', 'team-b'], secretNames: ['redis-a', 'redis-b'] },
      },
    });
    const roles = manifests.filter(
      (m) => m.kind === 'Role' && m.metadata.name === 'flowpool-operator-secrets',
    );
    expect(roles.map((role) => role.metadata.namespace)).toEqual(['team-a', 'team-b']);
    for (const role of roles) {
      expect(rules(role)).toEqual([
        {
          apiGroups: [''],
          resources: ['secrets'],
          verbs: ['get'],
          resourceNames: ['redis-a', 'redis-b'],
        },
      ]);
    }
    expect(
      manifests
        .filter((m) => m.kind === 'RoleBinding' && m.metadata.name === 'flowpool-operator-secrets')
        .map((binding) => binding.metadata.namespace),
    ).toEqual(['team-a', 'team-b']);
    expect(
      rules(named(manifests, 'ClusterRole')).some((r) => r.resources.includes('secrets')),
    ).toBe(false);
    // ["*"]: every namespace, as a ClusterRole rule (the wide grant, asked for by name).
    const everywhere = helmTemplate({ values: { rbac: { secretNamespaces: ['*'] } } });
    expect(find(everywhere, 'Role', 'flowpool-operator-secrets')).toBeUndefined();
    expect(
      rules(named(everywhere, 'ClusterRole')).find((r) => r.resources.includes('secrets')),
    ).toEqual({ apiGroups: [''], resources: ['secrets'], verbs: ['get'] });
  });

  it('grants pods patch and marks deletion costs unless turned off', () => {
    const manifests = helmTemplate({
      values: { operator: { podDeletionCost: { enabled: false } } },
    });
    expect(
      rules(named(manifests, 'ClusterRole')).find((r) => r.resources.includes('pods'))?.verbs,
    ).toEqual(['list']);
    const container = podSpec(named(manifests, 'Deployment', 'flowpool-operator')).containers[0]!;
    expect(envOf(container).POD_DELETION_COST).toBe('false');
    expect(
      find(manifests, 'ValidatingAdmissionPolicy', 'flowpool-pod-deletion-cost'),
    ).toBeUndefined();
  });

  it("guards the operator's pod patches: its own ServiceAccount, bound to the watched namespace", () => {
    const manifests = helmTemplate({
      releaseName: 'fp',
      namespace: 'ops',
      values: { operator: { watchNamespace: 'team-a' }, serviceAccount: { name: 'scaler' } },
    });
    const policy = named(manifests, 'ValidatingAdmissionPolicy', 'fp-flowpool-pod-deletion-cost');
    expect(policy.spec).toMatchObject({
      failurePolicy: 'Fail',
      matchConstraints: {
        resourceRules: [
          { apiGroups: [''], apiVersions: ['v1'], operations: ['UPDATE'], resources: ['pods'] },
        ],
      },
      matchConditions: [
        { expression: "request.userInfo.username == 'system:serviceaccount:ops:scaler'" },
      ],
    });
    expect(
      named(manifests, 'ValidatingAdmissionPolicyBinding', 'fp-flowpool-pod-deletion-cost').spec,
    ).toMatchObject({
      policyName: 'fp-flowpool-pod-deletion-cost',
      validationActions: ['Deny'],
      matchResources: {
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'team-a' } },
      },
    });
    // Without admission policies (clusters before 1.30) the patch is granted unguarded.
    const unguarded = helmTemplate({ values: { admissionPolicy: { enabled: false } } });
    expect(find(unguarded, 'ValidatingAdmissionPolicy')).toBeUndefined();
    expect(
      rules(named(unguarded, 'ClusterRole')).find((r) => r.resources.includes('pods'))?.verbs,
    ).toEqual(['list', 'patch']);
  });

  it('refuses pools whose Redis Secret the operator could not read', () => {
    const result = helmTemplateRaw({
      values: {
        database: { url: 'postgres://db/flowpool' },
        redis: { url: 'redis://redis:6379' },
        pools: [
          {
            name: 'billing',
            namespace: 'billing',
            spec: { redis: { urlSecretRef: { name: 'billing-redis', key: 'url' } } },
          },
        ],
      },
    });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain(
      'flowpool: pools[0] (billing) reads its Redis URL from a Secret in namespace billing, where the operator may not read Secrets: add billing to rbac.secretNamespaces',
    );
  });
});

describe('the api, migrations and pools', () => {
  const apiValues = {
    database: { existingSecret: { name: 'conn', key: 'db' } },
    redis: { url: 'redis://redis:6379' },
    api: { enabled: true, tokens: { inline: { 'token-for-tests': 'acme' } } },
    migrations: { enabled: true },
  };

  it('runs the api with the design environment and a tokens file', () => {
    const manifests = helmTemplate({ values: apiValues });
    const spec = podSpec(named(manifests, 'Deployment', 'flowpool-api'));
    const env = envOf(spec.containers[0]!);
    expect(env).toMatchObject({
      DATABASE_URL: { secretKeyRef: { name: 'conn', key: 'db' } },
      REDIS_URL: 'redis://redis:6379',
      WORKFLOW_REDIS_STREAM_PREFIX: 'workflow:events:',
      WORKFLOW_POOL: 'global',
      WORKFLOW_REDIS_CONSUMER_GROUP: 'workflow-workers',
      FLOWPOOL_API_TOKENS_FILE: '/etc/flowpool/tokens/tokens.json',
      PORT: '8080',
    });
    expect(env.FLOWPOOL_API_TOKENS).toBeUndefined();
    const secret = named(manifests, 'Secret', 'flowpool-api-tokens');
    expect(JSON.parse((secret.stringData as Record<string, string>)['tokens.json']!)).toEqual({
      'token-for-tests': 'acme',
    });
    expect(named(manifests, 'Service', 'flowpool-api').spec).toMatchObject({
      ports: [{ port: 80, targetPort: 'http' }],
    });
  });

  it('migrates in a pre-install/pre-upgrade hook Job, or in the api pods', () => {
    const job = named(helmTemplate({ values: apiValues }), 'Job', 'flowpool-migrate');
    expect(job.metadata.annotations).toMatchObject({
      'helm.sh/hook': 'pre-install,pre-upgrade',
      'helm.sh/hook-delete-policy': 'before-hook-creation,hook-succeeded',
    });
    const container = podSpec(job).containers[0] as Container & { args: string[] };
    expect(container.args).toEqual(['migrate']);
    expect(envOf(container).DATABASE_URL).toEqual({ secretKeyRef: { name: 'conn', key: 'db' } });

    const init = helmTemplate({
      values: { ...apiValues, migrations: { enabled: true, mode: 'initContainer' } },
    });
    expect(find(init, 'Job')).toBeUndefined();
    const spec = podSpec(named(init, 'Deployment', 'flowpool-api'));
    expect(spec.initContainers?.map((c) => (c as Container & { args: string[] }).args)).toEqual([
      ['migrate'],
    ]);
  });

  it('fills pool defaults from the chart values', () => {
    const manifests = helmTemplate({
      values: {
        ...apiValues,
        image: { tag: '1.2.3' },
        pools: [
          { name: 'billing', spec: { concurrency: 4 } },
          {
            name: 'own',
            namespace: 'team-b',
            spec: {
              image: 'other:1',
              redis: { url: 'redis://other:6379', stream: 'x:y' },
              database: { url: 'postgres://db/own' },
            },
          },
        ],
      },
      apiVersions: [POOL_KIND],
    });
    const billing = named(manifests, 'WorkflowWorkerPool', 'billing');
    expect(billing.metadata.namespace).toBe('flowpool-system');
    expect(billing.spec).toEqual({
      image: 'flowpool:1.2.3',
      concurrency: 4,
      redis: {
        url: 'redis://redis:6379',
        stream: 'workflow:events:billing',
        consumerGroup: 'workflow-workers',
      },
      database: { urlSecretRef: { name: 'conn', key: 'db' } },
    });
    // The kind is served: the pools are ordinary release objects.
    expect(billing.metadata.annotations).toBeUndefined();
    const own = named(manifests, 'WorkflowWorkerPool', 'own');
    expect(own.metadata.namespace).toBe('team-b');
    expect(own.spec).toEqual({
      image: 'other:1',
      redis: { url: 'redis://other:6379', stream: 'x:y', consumerGroup: 'workflow-workers' },
      database: { url: 'postgres://db/own' },
    });
  });

  it('makes pools post-install hooks owned by the release while the kind is not served yet', () => {
    const manifests = helmTemplate({
      values: { ...apiValues, pools: [{ name: 'first' }] },
      releaseName: 'fp',
    });
    expect(named(manifests, 'WorkflowWorkerPool', 'first').metadata.annotations).toEqual({
      'helm.sh/hook': 'post-install',
      'meta.helm.sh/release-name': 'fp',
      'meta.helm.sh/release-namespace': 'flowpool-system',
    });
  });
});

describe('monitoring', () => {
  it('renders monitors and the dashboard only when asked', () => {
    const plain = helmTemplate();
    for (const kind of ['ServiceMonitor', 'PodMonitor', 'ConfigMap'])
      expect(find(plain, kind)).toBeUndefined();
    const all = helmTemplate({
      values: {
        metrics: {
          serviceMonitor: { enabled: true },
          podMonitor: { enabled: true },
          dashboard: { enabled: true },
        },
      },
    });
    named(all, 'ServiceMonitor');
    expect(named(all, 'PodMonitor').spec).toMatchObject({
      namespaceSelector: { any: true },
      selector: { matchLabels: { 'app.kubernetes.io/name': 'flowpool-worker' } },
    });
    const configMap = named(all, 'ConfigMap', 'flowpool-dashboard');
    expect(configMap.metadata.labels?.grafana_dashboard).toBe('1');
    const dashboard = JSON.parse((configMap.data as Record<string, string>)['flowpool.json']!);
    expect(dashboard.uid).toBe('flowpool-overview');
  });

  it('charts only metrics the operator, workers and api export', async () => {
    const dashboard = JSON.parse(
      fs.readFileSync(path.join(CHART_DIR, 'files/dashboards/flowpool.json'), 'utf8'),
    ) as { panels: Array<{ title: string; targets?: Array<{ expr: string }> }> };
    const exported = new Set<string>();
    for (const registry of [
      new OperatorMetrics(false).registry,
      new WorkerMetrics(() => 0, false).registry,
      new ApiMetrics().registry,
    ]) {
      for (const metric of await registry.getMetricsAsJSON()) {
        exported.add(metric.name);
        if (String(metric.type) === 'histogram') {
          for (const suffix of ['_bucket', '_sum', '_count']) exported.add(metric.name + suffix);
        }
      }
    }
    const used = new Set<string>();
    const titles: string[] = [];
    for (const panel of dashboard.panels) {
      titles.push(panel.title);
      for (const target of panel.targets ?? []) {
        for (const match of target.expr.matchAll(/\bflowpool_[a-z_]+/g)) used.add(match[0]);
      }
    }
    expect([...used].filter((name) => !exported.has(name))).toEqual([]);
    // What the issue asks the dashboard to show.
    for (const wanted of [
      /backlog/i,
      /workers/i,
      /processed|applied/i,
      /latency/i,
      /dead letters/i,
    ]) {
      expect(
        titles.some((title) => wanted.test(title)),
        String(wanted),
      ).toBe(true);
    }
  });
});

describe('documentation', () => {
  /** Every leaf path of values.yaml, e.g. operator.leaderElection.enabled. */
  function leaves(value: unknown, prefix = ''): string[] {
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      const entries = Object.entries(value as Json);
      // Free-form maps (labels, resources, security contexts, probes) are documented as one value.
      const isDocumentedAsWhole =
        entries.length === 0 ||
        /(Labels|Annotations|labels|annotations|resources|SecurityContext|Probe|nodeSelector|affinity|inline)$/.test(
          prefix,
        );
      if (prefix && isDocumentedAsWhole) return [prefix];
      return entries.flatMap(([key, inner]) => leaves(inner, prefix ? `${prefix}.${key}` : key));
    }
    return [prefix];
  }

  it('the README lists every value', () => {
    const values = parse(fs.readFileSync(path.join(CHART_DIR, 'values.yaml'), 'utf8'));
    const readme = fs.readFileSync(path.join(CHART_DIR, 'README.md'), 'utf8');
    const missing = leaves(values).filter((leaf) => !readme.includes(`| \`${leaf}\` |`));
    expect(missing).toEqual([]);
  });

  it('the schema describes every value', () => {
    const schema = JSON.parse(fs.readFileSync(path.join(CHART_DIR, 'values.schema.json'), 'utf8'));
    const values = parse(fs.readFileSync(path.join(CHART_DIR, 'values.yaml'), 'utf8'));
    const undescribed: string[] = [];
    const walk = (node: Json | undefined, value: unknown, at: string) => {
      if (!node) return;
      const resolved = node.$ref
        ? (schema.definitions[(node.$ref as string).replace('#/definitions/', '')] as Json)
        : node;
      if (!node.description && !resolved.description) undescribed.push(at);
      const properties = resolved.properties as Record<string, Json> | undefined;
      if (properties && value && typeof value === 'object' && !Array.isArray(value)) {
        for (const [key, inner] of Object.entries(value as Json)) {
          if (!properties[key]) undescribed.push(`${at}.${key} (not in the schema)`);
          else walk(properties[key], inner, at ? `${at}.${key}` : key);
        }
      }
    };
    for (const [key, value] of Object.entries(values as Json)) {
      walk(schema.properties[key], value, key);
    }
    expect(undescribed).toEqual([]);
  });
});
