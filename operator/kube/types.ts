/**
 * The operator's narrow view of the Kubernetes API: what the controller
 * reads and writes, and nothing else. The real adapter (kube-api.ts) talks
 * to an API server; tests may substitute their own.
 */
import type { V1Deployment, V1ObjectMeta, V1Pod } from '@kubernetes/client-node';
import type { WorkflowWorkerPool, WorkflowWorkerPoolStatus } from '../api/pool.js';

/** Any object with metadata, as the API server sends it (plain JSON). */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: V1ObjectMeta;
}

export type Deployment = V1Deployment;
export type Pod = V1Pod;

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK';

export interface WatchEvent<T> {
  type: WatchEventType;
  object: T;
}

/** One kind of object in one scope (a namespace or the whole cluster), listed and watched. */
export interface ListWatch<T extends KubeObject> {
  /** What is being watched, for logs, e.g. `workflowworkerpools (all namespaces)`. */
  readonly description: string;
  list(): Promise<{ items: T[]; resourceVersion: string }>;
  /**
   * Streams changes after `resourceVersion` to `onEvent` until the server
   * ends the watch (resolves) or it fails (rejects; a KubeApiError with
   * status 410 means the version is gone and the caller must list again).
   * Aborting `signal` ends it quietly.
   */
  watch(
    resourceVersion: string,
    onEvent: (event: WatchEvent<T>) => void,
    signal: AbortSignal,
  ): Promise<void>;
}

/** A reference to an object, for Events. */
export interface ObjectReference {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  uid?: string | undefined;
  resourceVersion?: string | undefined;
}

export interface KubeEvent {
  involvedObject: ObjectReference;
  type: 'Normal' | 'Warning';
  /** CamelCase, e.g. ScaleUp. */
  reason: string;
  message: string;
}

/** A merge patch of a pool's status: null removes a field. */
export type PoolStatusPatch = {
  [K in keyof WorkflowWorkerPoolStatus]?: WorkflowWorkerPoolStatus[K] | null;
};

/** Everything the operator does to the cluster. */
export interface KubeTarget {
  /** Pools in `namespace`, or in all namespaces when undefined. */
  pools(namespace: string | undefined): ListWatch<WorkflowWorkerPool>;
  /** Deployments matching `labelSelector` in `namespace` (all when undefined). */
  deployments(namespace: string | undefined, labelSelector: string): ListWatch<Deployment>;
  getDeployment(namespace: string, name: string): Promise<Deployment | undefined>;
  /** Server-side apply with the operator's field manager, taking over conflicting fields. */
  applyDeployment(deployment: Deployment): Promise<Deployment>;
  /** Merge patch of the status subresource. */
  patchPoolStatus(
    namespace: string,
    name: string,
    status: PoolStatusPatch,
  ): Promise<WorkflowWorkerPool>;
  listPods(namespace: string, labelSelector: string): Promise<Pod[]>;
  /** Merge patch of a pod's annotations (null removes one). */
  annotatePod(
    namespace: string,
    name: string,
    annotations: Record<string, string | null>,
  ): Promise<void>;
  /** The decoded value of a Secret's key; undefined when the Secret or the key is missing. */
  readSecretKey(
    namespace: string,
    name: string,
    key: string,
  ): Promise<
    { found: 'secret-missing' } | { found: 'key-missing' } | { found: 'value'; value: string }
  >;
  emitEvent(event: KubeEvent): Promise<void>;
}
