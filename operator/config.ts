/**
 * The operator's environment, parsed once at start. A bad value stops the
 * process with one line naming the variable (core/process/startup.ts).
 */
import fs from 'node:fs';
import os from 'node:os';
import { LOG_LEVELS, type LogLevel } from '../core/config/config.js';
import { type Env, integer, oneOf, optionalText } from '../core/config/parse.js';
import { ConfigError } from '../core/errors.js';
import type { PodPolicy } from './render/policy.js';

/** Where a pod finds its own namespace. */
const IN_CLUSTER_NAMESPACE_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';
const DEFAULT_LEASE_NAME = 'flowpool-operator';

export type KubeConfigSource = { kind: 'file'; path: string } | { kind: 'in-cluster' };

export interface OperatorConfig {
  kube: KubeConfigSource;
  /** Pools of this namespace only; all namespaces when undefined. */
  watchNamespace: string | undefined;
  /** /healthz, /readyz, /metrics. */
  port: number;
  logLevel: LogLevel;
  leaderElection: boolean;
  /** Where the Lease lives (when leaderElection). */
  leaseNamespace: string | undefined;
  leaseName: string;
  /** Create the Lease when missing (LEASE_CREATE); false when it is created for the operator (the chart). */
  leaseCreate: boolean;
  /** This replica's name in the Lease: POD_NAME, else host name and pid. */
  identity: string;
  /** Every pool is reconciled at least this often. */
  resyncSeconds: number;
  /** Lease timings (Kubernetes' defaults: 15 s, 10 s, 2 s). */
  leaseDurationSeconds: number;
  renewDeadlineSeconds: number;
  retryPeriodSeconds: number;
  /**
   * Mark pods with controller.kubernetes.io/pod-deletion-cost before a scale
   * down so idle workers go first (POD_DELETION_COST); needs patch on pods.
   */
  podDeletionCost: boolean;
  /** What pools may ask for: images by prefix, ServiceAccounts (ALLOWED_IMAGE_PREFIXES, ALLOWED_SERVICE_ACCOUNTS). */
  podPolicy: PodPolicy;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function namespace(env: Env, name: string): string | undefined {
  const value = optionalText(env, name);
  if (value !== undefined && !DNS_LABEL.test(value)) {
    throw new ConfigError(
      name,
      `expected a namespace name (lowercase letters, digits, -), got "${value}"`,
    );
  }
  return value;
}

function boolean(env: Env, name: string, fallback: boolean): boolean {
  const value = optionalText(env, name);
  if (value === undefined) return fallback;
  const lower = value.toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(lower)) return true;
  if (['false', '0', 'no', 'off'].includes(lower)) return false;
  throw new ConfigError(name, `expected true or false, got "${value}"`);
}

/** Comma-separated entries; undefined for `*` (anything goes). */
function list(
  env: Env,
  name: string,
  fallback: string[] | undefined,
  valid: (entry: string) => boolean,
  expected: string,
): readonly string[] | undefined {
  const value = optionalText(env, name);
  if (value === undefined) return fallback;
  const entries = value
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  if (entries.includes('*')) {
    if (entries.length > 1) throw new ConfigError(name, 'expected * alone or a list without *');
    return undefined;
  }
  const bad = entries.find((entry) => !valid(entry));
  if (bad !== undefined) throw new ConfigError(name, `expected ${expected}, got "${bad}"`);
  return entries;
}

const SERVICE_ACCOUNT_ENTRY =
  /^(?:[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\/)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/**
 * Unset ALLOWED_IMAGE_PREFIXES allows any image (the operator cannot guess
 * yours; the chart always sets it). Unset ALLOWED_SERVICE_ACCOUNTS allows
 * only each namespace's default ServiceAccount. `*` allows anything.
 */
function podPolicy(env: Env): PodPolicy {
  return {
    imagePrefixes: list(
      env,
      'ALLOWED_IMAGE_PREFIXES',
      undefined,
      (entry) => !/\s/.test(entry),
      'image prefixes separated by commas (e.g. ghcr.io/acme/,flowpool), or *',
    ),
    serviceAccounts: list(
      env,
      'ALLOWED_SERVICE_ACCOUNTS',
      [],
      (entry) => SERVICE_ACCOUNT_ENTRY.test(entry) && entry.length <= 317,
      'ServiceAccounts as name or namespace/name separated by commas, or *',
    ),
  };
}

function kubeSource(env: Env): KubeConfigSource {
  const file = optionalText(env, 'KUBECONFIG');
  if (file !== undefined) {
    // kubectl allows a list; the operator takes the first file.
    const first = file.split(':')[0] ?? file;
    if (!fs.existsSync(first)) throw new ConfigError('KUBECONFIG', `no such file: ${first}`);
    return { kind: 'file', path: first };
  }
  if (optionalText(env, 'KUBERNETES_SERVICE_HOST') === undefined) {
    throw new ConfigError(
      'KUBECONFIG',
      'not set, and this is not a pod (KUBERNETES_SERVICE_HOST is unset): set KUBECONFIG to a kubeconfig file',
    );
  }
  return { kind: 'in-cluster' };
}

function inClusterNamespace(): string | undefined {
  try {
    const value = fs.readFileSync(IN_CLUSTER_NAMESPACE_FILE, 'utf8').trim();
    return value === '' ? undefined : value;
  } catch {
    return undefined;
  }
}

export function loadOperatorConfig(env: Env): OperatorConfig {
  const logLevel = oneOf(env, 'LOG_LEVEL', LOG_LEVELS, 'info');
  const kube = kubeSource(env);
  const watchNamespace = namespace(env, 'WATCH_NAMESPACE');
  const port = integer(env, 'PORT', 8080, { min: 0, max: 65_535 });
  const leaderElection = boolean(env, 'LEADER_ELECTION', true);
  const leaseName = optionalText(env, 'LEASE_NAME') ?? DEFAULT_LEASE_NAME;
  if (!DNS_SUBDOMAIN.test(leaseName) || leaseName.length > 253) {
    throw new ConfigError(
      'LEASE_NAME',
      `expected a Lease name (lowercase letters, digits, - and .), got "${leaseName}"`,
    );
  }
  let leaseNamespace = namespace(env, 'LEASE_NAMESPACE') ?? namespace(env, 'POD_NAMESPACE');
  if (leaderElection && leaseNamespace === undefined) {
    leaseNamespace = kube.kind === 'in-cluster' ? inClusterNamespace() : undefined;
    if (leaseNamespace === undefined) {
      throw new ConfigError(
        'LEASE_NAMESPACE',
        'required when LEADER_ELECTION is true outside a pod (or set POD_NAMESPACE, or LEADER_ELECTION=false)',
      );
    }
  }
  const leaseDurationSeconds = integer(env, 'LEASE_DURATION_SECONDS', 15, { min: 2, max: 3600 });
  const renewDeadlineSeconds = integer(env, 'LEASE_RENEW_DEADLINE_SECONDS', 10, {
    min: 1,
    max: 3600,
  });
  const retryPeriodSeconds = integer(env, 'LEASE_RETRY_PERIOD_SECONDS', 2, { min: 1, max: 3600 });
  if (renewDeadlineSeconds >= leaseDurationSeconds) {
    throw new ConfigError(
      'LEASE_RENEW_DEADLINE_SECONDS',
      `must be less than LEASE_DURATION_SECONDS (${leaseDurationSeconds}), got ${renewDeadlineSeconds}`,
    );
  }
  if (retryPeriodSeconds >= renewDeadlineSeconds) {
    throw new ConfigError(
      'LEASE_RETRY_PERIOD_SECONDS',
      `must be less than LEASE_RENEW_DEADLINE_SECONDS (${renewDeadlineSeconds}), got ${retryPeriodSeconds}`,
    );
  }
  return {
    kube,
    watchNamespace,
    port,
    logLevel,
    leaderElection,
    leaseNamespace,
    leaseName,
    leaseCreate: boolean(env, 'LEASE_CREATE', true),
    identity: optionalText(env, 'POD_NAME') ?? `${os.hostname()}-${process.pid}`,
    resyncSeconds: integer(env, 'RESYNC_SECONDS', 300, { min: 1, max: 86_400 }),
    leaseDurationSeconds,
    renewDeadlineSeconds,
    retryPeriodSeconds,
    podDeletionCost: boolean(env, 'POD_DELETION_COST', true),
    podPolicy: podPolicy(env),
  };
}
