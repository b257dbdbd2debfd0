/**
 * What the cluster admin lets a pool ask for, beyond what its author may do:
 * the images its workers may run and the ServiceAccounts they may run as.
 * The operator renders no Deployment for a pool outside these lists.
 */
import type { WorkflowWorkerPool } from '../api/pool.js';
import { PoolSpecError } from './errors.js';

/** The ServiceAccount a pod runs as when it names none. */
const DEFAULT_SERVICE_ACCOUNT = 'default';

export interface PodPolicy {
  /**
   * Image references a pool's spec.image must start with; undefined allows
   * any image. See imageAllowed for how a prefix matches.
   */
  imagePrefixes: readonly string[] | undefined;
  /**
   * ServiceAccounts worker pods may run as, as `name` (in any namespace) or
   * `namespace/name`; undefined allows any. The namespace's `default`
   * ServiceAccount is always allowed.
   */
  serviceAccounts: readonly string[] | undefined;
}

/** No restriction: what tests and local tools that render Deployments use. */
export const UNRESTRICTED_POLICY: PodPolicy = {
  imagePrefixes: undefined,
  serviceAccounts: undefined,
};

export class ImageNotAllowedError extends PoolSpecError {
  constructor(image: string, prefixes: readonly string[]) {
    super(
      'ImageNotAllowed',
      `spec.image "${image}" is not allowed by the operator: images must start with one of ${describe(prefixes)} ` +
        '(the operator setting ALLOWED_IMAGE_PREFIXES, chart value operator.allowedImagePrefixes)',
    );
    this.name = 'ImageNotAllowedError';
  }
}

export class ServiceAccountNotAllowedError extends PoolSpecError {
  constructor(namespace: string, serviceAccount: string, allowed: readonly string[]) {
    super(
      'ServiceAccountNotAllowed',
      `spec.podTemplate.serviceAccountName "${serviceAccount}" is not allowed by the operator in namespace ${namespace}: ` +
        `worker pods may run as the default ServiceAccount${allowed.length > 0 ? ` or ${describe(allowed)}` : ''} ` +
        '(the operator setting ALLOWED_SERVICE_ACCOUNTS, chart value operator.allowedServiceAccounts)',
    );
    this.name = 'ServiceAccountNotAllowedError';
  }
}

function describe(list: readonly string[]): string {
  return list.map((entry) => `"${entry}"`).join(', ');
}

/**
 * True when `image` starts with `prefix` at a boundary. A prefix ending in
 * '/', ':' or '@' matches anything after it; any other prefix names a whole
 * repository and matches only when a tag, a digest or nothing follows.
 * Hazard: a bare textual prefix would let `registry/team/flowpool` admit
 * `registry/team/flowpool-anything`. Matching is on the reference as written
 * (no registry or `library/` is filled in), so list each spelling you use.
 */
export function imageAllowed(image: string, prefix: string): boolean {
  if (prefix === '' || !image.startsWith(prefix)) return false;
  if (/[/:@]$/.test(prefix)) return true;
  const next = image.charAt(prefix.length);
  return next === '' || next === ':' || next === '@';
}

/** True when a pod of `namespace` may run as `serviceAccount` under `allowed`. */
export function serviceAccountAllowed(
  namespace: string,
  serviceAccount: string,
  allowed: readonly string[],
): boolean {
  if (serviceAccount === DEFAULT_SERVICE_ACCOUNT) return true;
  return allowed.some(
    (entry) => entry === serviceAccount || entry === `${namespace}/${serviceAccount}`,
  );
}

/** Throws a PoolSpecError when the pool asks for an image or ServiceAccount `policy` refuses. */
export function checkPodPolicy(pool: WorkflowWorkerPool, policy: PodPolicy): void {
  const { imagePrefixes, serviceAccounts } = policy;
  const image = pool.spec.image;
  if (imagePrefixes !== undefined && !imagePrefixes.some((prefix) => imageAllowed(image, prefix))) {
    throw new ImageNotAllowedError(image, imagePrefixes);
  }
  const account = pool.spec.podTemplate.serviceAccountName;
  const namespace = pool.metadata.namespace ?? 'default';
  if (
    serviceAccounts !== undefined &&
    account !== undefined &&
    account !== '' &&
    !serviceAccountAllowed(namespace, account, serviceAccounts)
  ) {
    throw new ServiceAccountNotAllowedError(namespace, account, serviceAccounts);
  }
}
