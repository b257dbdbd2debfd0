export {
  GRACE_MARGIN_SECONDS,
  ignoredEnvNames,
  MANAGED_BY,
  OPERATOR_ENV,
  poolOwnerReference,
  renderWorkerDeployment,
  selectorLabels,
  selectorString,
  terminationGracePeriodSeconds,
  WORKER_APP_NAME,
  WORKER_CONTAINER,
  WORKER_HTTP_PORT,
  WORKER_UID,
  workerEnv,
} from './deployment.js';
export { PoolSpecError } from './errors.js';
export {
  checkPodPolicy,
  DEFAULT_SERVICE_ACCOUNT,
  ImageNotAllowedError,
  imageAllowed,
  type PodPolicy,
  ServiceAccountNotAllowedError,
  serviceAccountAllowed,
  UNRESTRICTED_POLICY,
} from './policy.js';
export { StreamNameError, type StreamParts, splitStream, WORKER_POOL_PATTERN } from './stream.js';
