/**
 * The WorkflowWorkerPool API (flowpool.dev/v1alpha1): one schema that yields
 * both the TypeScript types the operator uses and the OpenAPI schema of the
 * CustomResourceDefinition (see crd.ts), so the two cannot drift apart.
 *
 * Every field has a description (shown by `kubectl explain`), defaults are
 * applied by the API server, and validation rules are CEL expressions whose
 * messages tell the user what to change.
 */
import type { V1ObjectMeta } from '@kubernetes/client-node';
import { type Static, type TLiteral, type TUnion, Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import {
  DEFAULT_CONSUMER_GROUP,
  DEFAULT_STREAM,
  POOL_NAME_RULE,
  POOL_NAME_SOURCE,
} from '../../core/stream-names.js';

export const GROUP = 'flowpool.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}` as const;
export const KIND = 'WorkflowWorkerPool';
export const LIST_KIND = 'WorkflowWorkerPoolList';
export const PLURAL = 'workflowworkerpools';
export const SINGULAR = 'workflowworkerpool';
export const SHORT_NAME = 'wwp';
export const CATEGORY = 'flowpool';
export const CRD_NAME = `${PLURAL}.${GROUP}` as const;

/** Labels the operator puts on every worker pod; pool templates may not set them. */
export const POOL_LABEL = 'flowpool.dev/pool';
const RESERVED_POD_LABELS = [
  'app.kubernetes.io/name',
  'app.kubernetes.io/instance',
  POOL_LABEL,
] as const;

/** Condition types the operator reports in `status.conditions`. */
export const CONDITION_TYPES = ['Ready', 'Scaling', 'StreamReachable'] as const;
export type PoolConditionType = (typeof CONDITION_TYPES)[number];

/**
 * The streams workers can be given as WORKFLOW_REDIS_STREAM_PREFIX +
 * WORKFLOW_POOL, i.e. those render/stream.ts splitStream accepts: a pool
 * name of 1-100 letters, digits, '.', '_' or '-' after the last ':', and a
 * prefix that does not start with whitespace (workers trim their settings).
 * RE2 syntax, for CEL; the class is exactly what JavaScript's trim()
 * removes. crd.test.ts checks it against splitStream.
 */
export const STREAM_PATTERN = `(?s)^(?:[^\\t\\n\\v\\f\\r\\p{Zs}\\x{2028}\\x{2029}\\x{feff}].*)?:${POOL_NAME_SOURCE}$`;

/** One CEL validation rule, as `x-kubernetes-validations` holds it. */
export interface ValidationRule {
  rule: string;
  message: string;
  /** Where the error points, relative to the schema that holds the rule, e.g. `.maxReplicas`. */
  fieldPath?: string;
  reason?:
    | 'FieldValueInvalid'
    | 'FieldValueRequired'
    | 'FieldValueForbidden'
    | 'FieldValueDuplicate';
}

function rules(...list: ValidationRule[]): { 'x-kubernetes-validations': ValidationRule[] } {
  return { 'x-kubernetes-validations': list };
}

/** A bounded integer whose bounds are checked by CEL, so the message can say what to do. */
function count(
  description: string,
  rule: ValidationRule,
  options: { default?: number; format?: 'int32' | 'int64' } = {},
) {
  return Type.Integer({
    description,
    format: options.format ?? 'int32',
    ...options,
    ...rules(rule),
  });
}

/** An object with free-form string values (labels, annotations, node selectors). */
function stringMap(description: string, extra: Record<string, unknown> = {}) {
  return Type.Record(Type.String(), Type.String(), { description, ...extra });
}

/** A Kubernetes type too deep to restate here; the API server keeps it as given. */
function opaqueObject(description: string) {
  return Type.Record(Type.String(), Type.Unknown(), {
    description,
    'x-kubernetes-preserve-unknown-fields': true,
  });
}

/** A string that is one of `values` (an enum in the CRD). */
function oneOf<const T extends readonly string[]>(values: T, description: string) {
  const literals = values.map((value) => Type.Literal(value)) as TLiteral<T[number]>[];
  return Type.Union(literals, { description }) as TUnion<TLiteral<T[number]>[]>;
}

const QUANTITY_PATTERN =
  '^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$';

/** A resource quantity such as `500m`, `1Gi` or `2`. */
const Quantity = Type.Union([Type.Integer(), Type.String()], {
  description: 'A resource quantity such as 500m, 256Mi or 2.',
  'x-kubernetes-int-or-string': true,
  pattern: QUANTITY_PATTERN,
});

const SecretKeyRefSchema = Type.Object(
  {
    name: Type.String({
      description: 'Name of a Secret in the pool namespace.',
      maxLength: 253,
      ...rules({
        rule: "self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')",
        message:
          'urlSecretRef.name must be the name of a Secret: lowercase letters, digits, - and .',
      }),
    }),
    key: Type.String({
      description: 'Key inside the Secret whose value is the connection URL.',
      maxLength: 253,
      ...rules({
        rule: "self.matches('^[-._a-zA-Z0-9]+$')",
        message: 'urlSecretRef.key must be a key of the Secret: letters, digits, -, _ and .',
      }),
    }),
  },
  { description: 'A key of a Secret in the same namespace as the pool.' },
);

const RedisSchema = Type.Object(
  {
    url: Type.Optional(
      Type.String({
        description:
          'Redis connection URL, e.g. redis://redis:6379 or rediss://user:password@host:6380/0. ' +
          'Prefer urlSecretRef when the URL holds a password. Exactly one of url and urlSecretRef must be set.',
        maxLength: 2048,
        ...rules({
          rule: "self.startsWith('redis://') || self.startsWith('rediss://')",
          message: 'spec.redis.url must start with redis:// or rediss://, e.g. redis://redis:6379',
        }),
      }),
    ),
    urlSecretRef: Type.Optional(
      Type.Object(SecretKeyRefSchema.properties, {
        description:
          'Secret key holding the Redis connection URL. Exactly one of url and urlSecretRef must be set.',
      }),
    ),
    stream: Type.String({
      description:
        'Redis stream the pool consumes; it must match the stream the API publishes notices for this pool to.',
      default: DEFAULT_STREAM,
      minLength: 1,
      maxLength: 512,
      ...rules(
        {
          // A CEL string literal: every backslash of the pattern is escaped.
          rule: `self.matches('${STREAM_PATTERN.replaceAll('\\', '\\\\')}')`,
          message: `spec.redis.stream must be <prefix>:<pool>, where <pool> (after the last ":") is ${POOL_NAME_RULE} and the stream does not start with whitespace, e.g. workflow:events:billing (workers read WORKFLOW_REDIS_STREAM_PREFIX + WORKFLOW_POOL)`,
        },
        {
          rule: "!self.endsWith(':dlq')",
          message:
            'spec.redis.stream must not be a dead-letter stream (ending in :dlq); name the stream the workers consume',
        },
      ),
    }),
    consumerGroup: Type.String({
      description:
        'Consumer group the workers read the stream with; the operator reads its backlog.',
      default: DEFAULT_CONSUMER_GROUP,
      minLength: 1,
      maxLength: 256,
    }),
  },
  {
    description: 'Where the workers read notices of work: a Redis stream and its consumer group.',
    ...rules({
      rule: 'has(self.url) != has(self.urlSecretRef)',
      message: 'set exactly one of spec.redis.url or spec.redis.urlSecretRef',
    }),
  },
);

const DatabaseSchema = Type.Object(
  {
    url: Type.Optional(
      Type.String({
        description:
          'PostgreSQL connection URL, e.g. postgres://flowpool@postgres:5432/flowpool. ' +
          'Prefer urlSecretRef when the URL holds a password. Exactly one of url and urlSecretRef must be set.',
        maxLength: 2048,
        ...rules({
          rule: "self.startsWith('postgres://') || self.startsWith('postgresql://')",
          message:
            'spec.database.url must start with postgres:// or postgresql://, e.g. postgres://flowpool@postgres:5432/flowpool',
        }),
      }),
    ),
    urlSecretRef: Type.Optional(
      Type.Object(SecretKeyRefSchema.properties, {
        description:
          'Secret key holding the PostgreSQL connection URL. Exactly one of url and urlSecretRef must be set.',
      }),
    ),
  },
  {
    description: 'The PostgreSQL database holding workflow executions and their event history.',
    ...rules({
      rule: 'has(self.url) != has(self.urlSecretRef)',
      message: 'set exactly one of spec.database.url or spec.database.urlSecretRef',
    }),
  },
);

const AutoscalingSchema = Type.Object(
  {
    enabled: Type.Boolean({
      description:
        'Size the pool from the stream backlog. When false the pool runs spec.replicas workers.',
      default: true,
    }),
    minReplicas: count(
      'Fewest workers while autoscaling. 0 lets an idle pool scale to zero after scaleToZeroCooldownSeconds.',
      { rule: 'self >= 0', message: 'spec.autoscaling.minReplicas must be 0 or more' },
      { default: 1 },
    ),
    maxReplicas: count(
      'Most workers while autoscaling; at least minReplicas.',
      { rule: 'self >= 1', message: 'spec.autoscaling.maxReplicas must be at least 1' },
      { default: 10 },
    ),
    targetBacklogPerReplica: count(
      'Backlog (unread plus unacknowledged entries) one worker should carry; desired replicas = ceil(backlog / this).',
      {
        rule: 'self > 0',
        message: 'spec.autoscaling.targetBacklogPerReplica must be greater than 0, e.g. 100',
      },
      { default: 100 },
    ),
    activationBacklog: count(
      'Backlog at or above which a pool at zero replicas wakes up.',
      { rule: 'self >= 1', message: 'spec.autoscaling.activationBacklog must be at least 1' },
      { default: 1 },
    ),
    pollIntervalSeconds: count(
      'How often the operator reads the backlog, in seconds.',
      {
        rule: 'self >= 1 && self <= 3600',
        message: 'spec.autoscaling.pollIntervalSeconds must be between 1 and 3600',
      },
      { default: 5 },
    ),
    scaleDownStabilizationSeconds: count(
      'Scale down only to the highest recommendation of this many past seconds, so short dips do not shrink the pool.',
      {
        rule: 'self >= 0 && self <= 86400',
        message: 'spec.autoscaling.scaleDownStabilizationSeconds must be between 0 and 86400',
      },
      { default: 120 },
    ),
    scaleToZeroCooldownSeconds: count(
      'With minReplicas 0: how long the backlog must be known to be zero before the pool goes to zero replicas.',
      {
        rule: 'self >= 0 && self <= 604800',
        message: 'spec.autoscaling.scaleToZeroCooldownSeconds must be between 0 and 604800',
      },
      { default: 300 },
    ),
  },
  {
    description: 'Backlog-driven scaling. Scale up is immediate; scale down is stabilized.',
    default: {},
    ...rules({
      rule: '!has(self.minReplicas) || !has(self.maxReplicas) || self.maxReplicas >= self.minReplicas',
      message:
        'spec.autoscaling.maxReplicas must be greater than or equal to spec.autoscaling.minReplicas',
      fieldPath: '.maxReplicas',
    }),
  },
);

const EnvVarSchema = Type.Object(
  {
    name: Type.String({ description: 'Environment variable name.', minLength: 1, maxLength: 256 }),
    value: Type.Optional(Type.String({ description: 'Literal value.' })),
    valueFrom: Type.Optional(
      opaqueObject(
        'Where the value comes from (secretKeyRef, configMapKeyRef, fieldRef, resourceFieldRef).',
      ),
    ),
  },
  {
    description: 'An environment variable of the worker container (core/v1 EnvVar).',
    ...rules({
      rule: '!(has(self.value) && has(self.valueFrom))',
      message: 'an env entry may set value or valueFrom, not both',
    }),
  },
);

const TolerationSchema = Type.Object(
  {
    key: Type.Optional(
      Type.String({ description: 'Taint key the toleration applies to; empty means all keys.' }),
    ),
    operator: Type.Optional(
      Type.String({ description: 'Exists or Equal (default Equal).', enum: ['Exists', 'Equal'] }),
    ),
    value: Type.Optional(
      Type.String({ description: 'Taint value to match when operator is Equal.' }),
    ),
    effect: Type.Optional(
      Type.String({
        description: 'Taint effect to match; empty means all effects.',
        enum: ['', 'NoSchedule', 'PreferNoSchedule', 'NoExecute'],
      }),
    ),
    tolerationSeconds: Type.Optional(
      Type.Integer({
        description: 'For NoExecute: how long the pod stays bound after the taint appears.',
        format: 'int64',
      }),
    ),
  },
  { description: 'A toleration of the worker pods (core/v1 Toleration).' },
);

const ResourcesSchema = Type.Object(
  {
    requests: Type.Optional(
      Type.Record(Type.String(), Quantity, {
        description:
          'Resources the scheduler reserves per worker, e.g. {cpu: 250m, memory: 256Mi}.',
      }),
    ),
    limits: Type.Optional(
      Type.Record(Type.String(), Quantity, {
        description: 'Most resources a worker may use, e.g. {memory: 512Mi}.',
      }),
    ),
  },
  {
    description: 'Compute resources of the worker container (core/v1 ResourceRequirements).',
    'x-kubernetes-preserve-unknown-fields': true,
  },
);

const PodTemplateSchema = Type.Object(
  {
    labels: Type.Optional(
      stringMap(
        'Extra labels for the worker pods. The operator sets app.kubernetes.io/name, app.kubernetes.io/instance and flowpool.dev/pool itself.',
        rules({
          rule: RESERVED_POD_LABELS.map((label) => `!('${label}' in self)`).join(' && '),
          message: `spec.podTemplate.labels must not set ${RESERVED_POD_LABELS.join(', ')}: the operator sets them to select the pool's pods`,
        }),
      ),
    ),
    annotations: Type.Optional(stringMap('Extra annotations for the worker pods.')),
    resources: Type.Optional(ResourcesSchema),
    env: Type.Optional(
      Type.Array(EnvVarSchema, {
        description:
          'Extra environment variables of the worker container, e.g. LOG_LEVEL or FLOWPOOL_WORKFLOWS. ' +
          'Connection settings come from spec.redis and spec.database.',
        maxItems: 256,
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['name'],
      }),
    ),
    nodeSelector: Type.Optional(stringMap('Node labels a node must have to run the worker pods.')),
    tolerations: Type.Optional(
      Type.Array(TolerationSchema, {
        description: 'Taints the worker pods tolerate.',
        maxItems: 64,
      }),
    ),
    affinity: Type.Optional(
      opaqueObject('Scheduling constraints of the worker pods (core/v1 Affinity).'),
    ),
    serviceAccountName: Type.Optional(
      Type.String({
        description: 'ServiceAccount the worker pods run as; the namespace default when unset.',
        maxLength: 253,
      }),
    ),
    imagePullSecrets: Type.Optional(
      Type.Array(
        Type.Object(
          {
            name: Type.String({
              description: 'Name of a Secret of type kubernetes.io/dockerconfigjson.',
              minLength: 1,
            }),
          },
          { description: 'A reference to an image pull Secret in the pool namespace.' },
        ),
        { description: 'Secrets used to pull spec.image.', maxItems: 32 },
      ),
    ),
  },
  {
    description:
      'Settings copied into the worker pod template: labels, annotations, resources, env, nodeSelector, ' +
      'tolerations, affinity, serviceAccountName and imagePullSecrets.',
    default: {},
  },
);

export const WorkflowWorkerPoolSpecSchema = Type.Object(
  {
    image: Type.String({
      description: 'Container image of the workers, e.g. ghcr.io/acme/flowpool:0.1.0.',
      maxLength: 1024,
      ...rules({
        rule: "self.size() > 0 && !self.contains(' ')",
        message:
          'spec.image must be a container image reference such as flowpool:0.1.0 (not empty, no spaces)',
      }),
    }),
    redis: RedisSchema,
    database: DatabaseSchema,
    concurrency: count(
      'Events each worker process handles at once (WORKFLOW_CONCURRENCY); it applies them in batches across executions.',
      { rule: 'self >= 1 && self <= 1000', message: 'spec.concurrency must be between 1 and 1000' },
      { default: 64 },
    ),
    replicas: count(
      'Worker count when autoscaling is disabled; also what the scale subresource (kubectl scale) sets.',
      { rule: 'self >= 0', message: 'spec.replicas must be 0 or more' },
      { default: 1 },
    ),
    autoscaling: AutoscalingSchema,
    drainTimeoutSeconds: count(
      'How long a stopping worker may finish in-flight work; the pod termination grace period derives from it.',
      {
        rule: 'self >= 1 && self <= 3600',
        message: 'spec.drainTimeoutSeconds must be between 1 and 3600',
      },
      { default: 60 },
    ),
    paused: Type.Boolean({
      description: 'When true the operator leaves the Deployment of the pool and its size alone.',
      default: false,
    }),
    podTemplate: PodTemplateSchema,
  },
  { description: 'The desired state of the worker pool.' },
);

const PoolConditionSchema = Type.Object(
  {
    type: Type.String({
      description: 'Condition type: Ready, Scaling or StreamReachable.',
      minLength: 1,
      maxLength: 316,
    }),
    status: oneOf(['True', 'False', 'Unknown'], 'True, False or Unknown.'),
    reason: Type.String({
      description: 'A CamelCase word for why the condition has its status.',
      minLength: 1,
      maxLength: 1024,
      pattern: '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$',
    }),
    message: Type.String({ description: 'A human-readable explanation.', maxLength: 32768 }),
    lastTransitionTime: Type.String({
      description: 'When the status last changed.',
      format: 'date-time',
    }),
    observedGeneration: Type.Optional(
      Type.Integer({
        description: 'The metadata.generation the condition was computed from.',
        format: 'int64',
        minimum: 0,
      }),
    ),
  },
  { description: 'One aspect of the state of the pool (metav1.Condition).' },
);

const WorkflowWorkerPoolStatusSchema = Type.Object(
  {
    replicas: Type.Optional(
      Type.Integer({ description: 'Worker pods the Deployment has.', format: 'int32', minimum: 0 }),
    ),
    readyReplicas: Type.Optional(
      Type.Integer({ description: 'Worker pods that are ready.', format: 'int32', minimum: 0 }),
    ),
    desiredReplicas: Type.Optional(
      Type.Integer({
        description: 'Workers the operator last asked for.',
        format: 'int32',
        minimum: 0,
      }),
    ),
    backlog: Type.Optional(
      Type.Integer({ description: 'lag + pending at the last poll.', format: 'int64', minimum: 0 }),
    ),
    lag: Type.Optional(
      Type.Integer({
        description: 'Stream entries not yet delivered to the consumer group at the last poll.',
        format: 'int64',
        minimum: 0,
      }),
    ),
    pending: Type.Optional(
      Type.Integer({
        description: 'Entries delivered but not yet acknowledged at the last poll.',
        format: 'int64',
        minimum: 0,
      }),
    ),
    lagSource: Type.Optional(
      oneOf(
        ['xinfo', 'estimated', 'unknown'],
        'Where lag came from: xinfo (reported by Redis), estimated (Redis could not say, e.g. after trimming) or unknown.',
      ),
    ),
    selector: Type.Optional(
      Type.String({ description: 'Label selector of the worker pods, for the scale subresource.' }),
    ),
    lastScaleTime: Type.Optional(
      Type.String({
        description: 'When the operator last changed the replica count.',
        format: 'date-time',
      }),
    ),
    lastScaleReason: Type.Optional(
      Type.String({
        description: 'Why the operator last changed the replica count.',
        maxLength: 1024,
      }),
    ),
    observedGeneration: Type.Optional(
      Type.Integer({
        description: 'The metadata.generation this status reflects.',
        format: 'int64',
        minimum: 0,
      }),
    ),
    conditions: Type.Optional(
      Type.Array(PoolConditionSchema, {
        description: 'Ready, Scaling and StreamReachable.',
        maxItems: 16,
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['type'],
      }),
    ),
  },
  { description: 'What the operator last observed and did.' },
);

/** The whole object as stored; metadata is the API server's own. */
export const WorkflowWorkerPoolSchema = Type.Object(
  {
    apiVersion: Type.Optional(Type.String({ description: `Always ${API_VERSION}.` })),
    kind: Type.Optional(Type.String({ description: `Always ${KIND}.` })),
    metadata: Type.Optional(
      Type.Record(Type.String(), Type.Unknown(), { description: 'Standard object metadata.' }),
    ),
    spec: WorkflowWorkerPoolSpecSchema,
    status: Type.Optional(WorkflowWorkerPoolStatusSchema),
  },
  {
    description:
      'A pool of flowpool workers consuming one Redis stream, kept as one Deployment whose size follows the stream backlog.',
    ...rules({
      rule: 'self.metadata.name.size() <= 63',
      message:
        'metadata.name must be at most 63 characters: it becomes a label value on the worker pods',
      fieldPath: '.metadata',
    }),
  },
);

export type SecretKeyRef = Static<typeof SecretKeyRefSchema>;
export type WorkflowWorkerPoolSpec = Static<typeof WorkflowWorkerPoolSpecSchema>;
export type WorkflowWorkerPoolStatus = Static<typeof WorkflowWorkerPoolStatusSchema>;
/** A status condition, in the shape of metav1.Condition. */
export type PoolCondition = Static<typeof PoolConditionSchema>;
export type LagSource = NonNullable<WorkflowWorkerPoolStatus['lagSource']>;

export interface WorkflowWorkerPool {
  apiVersion: typeof API_VERSION;
  kind: typeof KIND;
  metadata: V1ObjectMeta;
  spec: WorkflowWorkerPoolSpec;
  status?: WorkflowWorkerPoolStatus;
}

export interface WorkflowWorkerPoolList {
  apiVersion: typeof API_VERSION;
  kind: typeof LIST_KIND;
  metadata: { resourceVersion?: string; continue?: string };
  items: WorkflowWorkerPool[];
}

/**
 * The spec with every default filled in, as the API server stores it. Useful
 * where a spec does not come from the API server (local mode, unit tests).
 */
export function withDefaults(spec: unknown): WorkflowWorkerPoolSpec {
  return Value.Default(
    WorkflowWorkerPoolSpecSchema,
    structuredClone(spec),
  ) as WorkflowWorkerPoolSpec;
}
