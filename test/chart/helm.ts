/**
 * Helpers for the chart tests: run the cached helm binary on charts/flowpool,
 * parse what it renders, and send manifests to a KubeApiServer with kubectl.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, stringify } from 'yaml';
import type { KubeApiServer } from '../support/kube-apiserver.js';
import { requireTestTools } from '../tools/paths.js';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CHART_DIR = path.join(REPO_ROOT, 'charts/flowpool');
/** Values files the chart must accept: the chart's ci/ folder (chart-testing's convention). */
export const CI_VALUES_DIR = path.join(CHART_DIR, 'ci');
/** The values the kind end-to-end script installs the chart with. */
export const E2E_VALUES = path.join(REPO_ROOT, 'test/e2e/values.yaml');

/** A Kubernetes object as rendered (plain JSON). */
export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [field: string]: unknown;
}

export interface RunResult {
  status: number;
  stdout: string;
  stderr: string;
}

let helmHome: string | undefined;

/** helm with its cache, config and data folders in a temporary folder (never the user's). */
export function helm(args: string[], options: { kubeconfig?: string } = {}): RunResult {
  const { helm: binary } = requireTestTools(['helm']);
  helmHome ??= fs.mkdtempSync(path.join(os.tmpdir(), 'flowpool-helm-'));
  const result = spawnSync(binary, args, {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: helmHome,
      HELM_CACHE_HOME: path.join(helmHome, 'cache'),
      HELM_CONFIG_HOME: path.join(helmHome, 'config'),
      HELM_DATA_HOME: path.join(helmHome, 'data'),
      ...(options.kubeconfig ? { KUBECONFIG: options.kubeconfig } : {}),
    },
    timeout: 120_000,
  });
  if (result.error) throw result.error;
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

export interface TemplateOptions {
  /** Values files, in order (later ones win). */
  valuesFiles?: string[];
  /** Values as an object, written to a temporary file and passed last. */
  values?: unknown;
  releaseName?: string;
  namespace?: string;
  /** Extra API versions for .Capabilities, e.g. flowpool.dev/v1alpha1/WorkflowWorkerPool. */
  apiVersions?: string[];
}

function valuesArgs(options: TemplateOptions): string[] {
  const args: string[] = [];
  for (const file of options.valuesFiles ?? []) args.push('--values', file);
  if (options.values !== undefined) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flowpool-values-'));
    const file = path.join(dir, 'values.yaml');
    fs.writeFileSync(file, stringify(options.values));
    args.push('--values', file);
  }
  return args;
}

/** `helm template`; the result, whatever it is. */
export function helmTemplateRaw(options: TemplateOptions = {}): RunResult {
  const args = [
    'template',
    options.releaseName ?? 'flowpool',
    CHART_DIR,
    '--namespace',
    options.namespace ?? 'flowpool-system',
    ...valuesArgs(options),
  ];
  for (const version of options.apiVersions ?? []) args.push('--api-versions', version);
  return helm(args);
}

/** `helm template`, parsed; throws with helm's message when it fails. */
export function helmTemplate(options: TemplateOptions = {}): Manifest[] {
  const result = helmTemplateRaw(options);
  if (result.status !== 0) {
    throw new Error(`helm template failed (${result.status}):\n${result.stderr}`);
  }
  return parseManifests(result.stdout);
}

/** `helm lint --strict` with the given values. */
export function helmLint(options: TemplateOptions = {}): RunResult {
  return helm([
    'lint',
    '--strict',
    CHART_DIR,
    '--namespace',
    options.namespace ?? 'flowpool-system',
    ...valuesArgs(options),
  ]);
}

/** Every non-empty document of a multi-document YAML text. */
export function parseManifests(text: string): Manifest[] {
  const out: Manifest[] = [];
  for (const document of parseAllDocuments(text)) {
    if (document.errors.length > 0) throw document.errors[0];
    const value = document.toJS() as Manifest | null;
    if (value) out.push(value);
  }
  return out;
}

export function readManifests(file: string): Manifest[] {
  return parseManifests(fs.readFileSync(file, 'utf8'));
}

export function find(manifests: Manifest[], kind: string, name?: string): Manifest | undefined {
  return manifests.find(
    (manifest) => manifest.kind === kind && (name === undefined || manifest.metadata.name === name),
  );
}

export function named(manifests: Manifest[], kind: string, name?: string): Manifest {
  const found = find(manifests, kind, name);
  if (!found) {
    const have = manifests.map((m) => `${m.kind}/${m.metadata.name}`).join(', ');
    throw new Error(`no ${kind}${name ? `/${name}` : ''} among: ${have}`);
  }
  return found;
}

/** The values files under the chart's ci/ folder. */
export function ciValuesFiles(): string[] {
  return fs
    .readdirSync(CI_VALUES_DIR)
    .filter((file) => file.endsWith('.yaml'))
    .sort()
    .map((file) => path.join(CI_VALUES_DIR, file));
}

export const KUBECTL = process.env.KUBECTL ?? '/usr/bin/kubectl';

/** kubectl against `kube` as `user` (admin by default), manifests on stdin. */
export function kubectl(
  kube: KubeApiServer,
  args: string[],
  options: { input?: string; kubeconfig?: string } = {},
): RunResult {
  const result = spawnSync(
    KUBECTL,
    ['--kubeconfig', options.kubeconfig ?? kube.kubeconfigPath, ...args],
    {
      input: options.input,
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: os.tmpdir() },
      timeout: 120_000,
    },
  );
  if (result.error) throw result.error;
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

/** Creates each namespace that does not exist yet. */
export async function ensureNamespaces(kube: KubeApiServer, names: Iterable<string>) {
  for (const name of new Set(names)) {
    const created = await kube.request('POST', '/api/v1/namespaces', {
      body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name } },
    });
    if (created.status !== 201 && created.status !== 409) {
      throw new Error(`creating namespace ${name}: ${JSON.stringify(created.body)}`);
    }
  }
}

/** The namespaces the manifests live in (`fallback` for namespaced objects without one). */
export function namespacesOf(manifests: Manifest[], fallback: string): string[] {
  const names = new Set<string>();
  for (const manifest of manifests) {
    if (CLUSTER_SCOPED.has(manifest.kind)) continue;
    names.add(manifest.metadata.namespace ?? fallback);
  }
  return [...names];
}

/**
 * Manifests as a stream of JSON objects for kubectl, so no value changes
 * type on the way (kubectl reads YAML 1.1, where an unquoted `no` is false).
 */
export function toJsonStream(manifests: Manifest[]): string {
  return manifests.map((manifest) => JSON.stringify(manifest)).join('\n');
}

const CLUSTER_SCOPED = new Set([
  'CustomResourceDefinition',
  'ClusterRole',
  'ClusterRoleBinding',
  'Namespace',
]);

/** Copies of the manifests with `namespace` set on namespaced objects that name none. */
export function inNamespace(manifests: Manifest[], namespace: string): Manifest[] {
  return manifests.map((manifest) =>
    CLUSTER_SCOPED.has(manifest.kind) || manifest.metadata.namespace
      ? manifest
      : { ...manifest, metadata: { ...manifest.metadata, namespace } },
  );
}

/**
 * Server-side applies `manifests` with dryRun=All through kubectl (strict
 * field validation, so unknown or misplaced fields are errors). Returns
 * kubectl's result; the caller asserts on it.
 */
export function dryRunApply(
  kube: KubeApiServer,
  manifests: Manifest[],
  namespace = 'default',
): RunResult {
  return kubectl(
    kube,
    [
      'apply',
      '--server-side',
      '--dry-run=server',
      '--field-manager=flowpool-chart-test',
      '--validate=strict',
      '-f',
      '-',
    ],
    { input: toJsonStream(inNamespace(manifests, namespace)) },
  );
}

/** Creates objects for real (server-side apply) and fails with kubectl's message when it cannot. */
export function apply(kube: KubeApiServer, manifests: Manifest[], namespace = 'default'): void {
  const result = kubectl(
    kube,
    ['apply', '--server-side', '--field-manager=flowpool-chart-test', '-f', '-'],
    { input: toJsonStream(inNamespace(manifests, namespace)) },
  );
  if (result.status !== 0) throw new Error(`kubectl apply failed:\n${result.stderr}`);
}

/** Waits until the API server serves the pools (a CRD is established a moment after it is created). */
export async function waitForPoolsServed(kube: KubeApiServer, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answer = await kube.request('GET', '/apis/flowpool.dev/v1alpha1/workflowworkerpools');
    if (answer.status === 200) return;
    if (Date.now() > deadline) throw new Error('the WorkflowWorkerPool CRD was not served in time');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
