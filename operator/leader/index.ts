/**
 * Leader election on a coordination.k8s.io/v1 Lease, so that of several
 * operator replicas only one acts.
 *
 * ```ts
 * const elector = new LeaderElector({
 *   kubeConfig, namespace, name: 'flowpool-operator', identity: process.env.POD_NAME!, logger,
 * });
 * elector
 *   .onStartedLeading((signal) => runControllers(signal)) // stop when signal aborts
 *   .onStoppedLeading(() => logger.warn({}, 'no longer leading'));
 * elector.start();
 * // on SIGTERM: await elector.stop(); // aborts the work, waits for it, releases the Lease
 * ```
 *
 * The ServiceAccount needs `get`, `create` and `update` on
 * `leases.coordination.k8s.io` in that namespace; `get` and `update` only
 * with `createLease: false`, when the Lease is created for it.
 */
export { systemClock } from './clock.js';
export {
  LeaderElector,
  type LeaderElectorOptions,
  LeadershipEndedError,
  LeaseMissingError,
  type StartedLeadingCallback,
  type StoppedLeadingCallback,
} from './elector.js';
export {
  DEFAULT_LEASE_FIELD_MANAGER,
  KubernetesLeaseClient,
  type KubernetesLeaseClientOptions,
} from './kubernetes-lease-client.js';
export { formatMicroTime } from './lease-rules.js';
export {
  type Clock,
  type LeaderLogger,
  type LeaderState,
  type LeaseCallOptions,
  type LeaseClient,
  LeaseConflictError,
  type LeaseRecord,
  type StoredLease,
} from './types.js';
