export { isNotFound, KubeApiError, KubeClient, type RequestOptions } from './client.js';
export { EVENT_SOURCE, FIELD_MANAGER, KubeApi, poolReference } from './kube-api.js';
export type {
  Deployment,
  KubeEvent,
  KubeObject,
  KubeTarget,
  ListWatch,
  ObjectReference,
  Pod,
  PoolStatusPatch,
  WatchEvent,
  WatchEventType,
} from './types.js';
