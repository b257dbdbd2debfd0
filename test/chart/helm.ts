/**
 * Helpers for the chart tests: run the cached helm binary on charts/flowpool,
 * parse what it renders, and send manifests to a KubeApiServer with kubectl.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, stringify } from 'yaml';
import type { KubeApiServer } from '../support/kube-apiserver.js';
import { requireTestTools, testToolPaths } from '../tools/paths.js';

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

/** helm's environment: its cache, config and data folders in a temporary folder (never the user's). */
function helmEnv(kubeconfig: string | undefined): NodeJS.ProcessEnv {
  helmHome ??= fs.mkdtempSync(path.join(os.tmpdir(), 'flowpool-helm-'));
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: helmHome,
    HELM_CACHE_HOME: path.join(helmHome, 'cache'),
    HELM_CONFIG_HOME: path.join(helmHome, 'config'),
    HELM_DATA_HOME: path.join(helmHome, 'data'),
    ...(kubeconfig ? { KUBECONFIG: kubeconfig } : {}),
  };
}

/** helm with its cache, config and data folders in a temporary folder (never the user's). */
export function helm(args: string[], options: { kubeconfig?: string } = {}): RunResult {
  const { helm: binary } = requireTestTools(['helm']);
  const result = spawnSync(binary, args, {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    env: helmEnv(options.kubeconfig),
    timeout: 120_000,
  });
  if (result.error) throw result.error;
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

/**
 * helm as a child process this process does not block on, for tests that
 * must keep running meanwhile (an operator in this process, say).
 */
export function helmAsync(
  args: string[],
  options: { kubeconfig?: string } = {},
): Promise<RunResult> {
  const { helm: binary } = requireTestTools(['helm']);
  const child = spawn(binary, args, {
    cwd: REPO_ROOT,
    env: helmEnv(options.kubeconfig),
    timeout: 120_000,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ status: code ?? -1, stdout, stderr }));
  });
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

/**
 * kubectl, for the checks of what users see (get, describe, explain): $KUBECTL,
 * else one beside the cached test tools, else the first on PATH.
 */
export function kubectlPath(): string {
  const candidates = [
    process.env.KUBECTL,
    path.join(testToolPaths().binDir, 'kubectl'),
    ...(process.env.PATH ?? '').split(path.delimiter).map((dir) => path.join(dir, 'kubectl')),
  ];
  for (const candidate of candidates) {
    if (!candidate) continue;
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // next
    }
  }
  throw new Error('kubectl not found: set KUBECTL, or put kubectl on PATH');
}

/** kubectl against `kube` as admin. */
export function kubectl(kube: KubeApiServer, args: string[]): RunResult {
  const result = spawnSync(kubectlPath(), ['--kubeconfig', kube.kubeconfigPath, ...args], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: os.tmpdir() },
    timeout: 120_000,
  });
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

const CLUSTER_SCOPED = new Set([
  'CustomResourceDefinition',
  'ClusterRole',
  'ClusterRoleBinding',
  'Namespace',
  'ValidatingAdmissionPolicy',
  'ValidatingAdmissionPolicyBinding',
]);

/** Copies of the manifests with `namespace` set on namespaced objects that name none. */
export function inNamespace(manifests: Manifest[], namespace: string): Manifest[] {
  return manifests.map((manifest) =>
    CLUSTER_SCOPED.has(manifest.kind) || manifest.metadata.namespace
      ? manifest
      : { ...manifest, metadata: { ...manifest.metadata, namespace } },
  );
}

interface ApiResource {
  name: string;
  kind: string;
  namespaced: boolean;
}

/** The URL path of an object, from the server's discovery (retried while a new CRD is not served yet). */
async function objectPath(kube: KubeApiServer, manifest: Manifest): Promise<string> {
  const base = manifest.apiVersion.includes('/')
    ? `/apis/${manifest.apiVersion}`
    : `/api/${manifest.apiVersion}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    const discovery = await kube.request<{ resources?: ApiResource[] }>('GET', base);
    const resource = discovery.body.resources?.find(
      (r) => r.kind === manifest.kind && !r.name.includes('/'),
    );
    if (resource) {
      const name = encodeURIComponent(manifest.metadata.name);
      return resource.namespaced
        ? `${base}/namespaces/${manifest.metadata.namespace ?? 'default'}/${resource.name}/${name}`
        : `${base}/${resource.name}/${name}`;
    }
    if (Date.now() > deadline) {
      throw new Error(`the server does not serve ${manifest.kind} in ${manifest.apiVersion}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** What the server answered for one object. */
export interface ApplyResult {
  object: string;
  status: number;
  message: string | undefined;
}

/**
 * Server-side apply, as `kubectl apply --server-side` sends it: one PATCH per
 * object with the apply content type, a field manager, strict field
 * validation (unknown or misplaced fields are errors) and, with dryRun,
 * dryRun=All (validated, admitted and defaulted, never stored).
 */
export async function serverSideApply(
  kube: KubeApiServer,
  manifests: Manifest[],
  { namespace = 'default', dryRun = false } = {},
): Promise<ApplyResult[]> {
  const results: ApplyResult[] = [];
  for (const manifest of inNamespace(manifests, namespace)) {
    const query = new URLSearchParams({
      fieldManager: 'flowpool-chart-test',
      fieldValidation: 'Strict',
      force: 'true',
    });
    if (dryRun) query.set('dryRun', 'All');
    const answer = await kube.request<{ message?: string }>(
      'PATCH',
      `${await objectPath(kube, manifest)}?${query}`,
      { body: manifest, contentType: 'application/apply-patch+yaml' },
    );
    const where = manifest.metadata.namespace ? `${manifest.metadata.namespace}/` : '';
    results.push({
      object: `${manifest.kind} ${where}${manifest.metadata.name}`,
      status: answer.status,
      message: answer.status >= 300 ? answer.body.message : undefined,
    });
  }
  return results;
}

/** The objects the server refused, with its message (empty when it took them all). */
export function refusedOf(results: ApplyResult[]): string[] {
  return results
    .filter((result) => result.status < 200 || result.status >= 300)
    .map((result) => `${result.object}: HTTP ${result.status}: ${result.message}`);
}

/** Creates (or updates) objects for real; throws with the server's message when it refuses one. */
export async function apply(
  kube: KubeApiServer,
  manifests: Manifest[],
  namespace = 'default',
): Promise<void> {
  const refused = refusedOf(await serverSideApply(kube, manifests, { namespace }));
  if (refused.length > 0) throw new Error(`server-side apply refused:\n${refused.join('\n')}`);
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
