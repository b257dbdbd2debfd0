import {
  type ConfigurationOptions,
  CoordinationV1Api,
  type KubeConfig,
  Observable,
  type RequestContext,
  type ResponseContext,
  type V1Lease,
  type V1LeaseSpec,
  type V1MicroTime,
} from '@kubernetes/client-node';
import { describeError } from '../../core/errors.js';
import { formatMicroTime } from './lease-rules.js';
import {
  type LeaseCallOptions,
  type LeaseClient,
  LeaseConflictError,
  type LeaseRecord,
  type StoredLease,
} from './types.js';

/** The field manager written into the Lease's managedFields. */
export const DEFAULT_LEASE_FIELD_MANAGER = 'flowpool-leader-elector';

export interface KubernetesLeaseClientOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  name: string;
  fieldManager?: string;
}

/**
 * A LeaseClient on client-node's CoordinationV1Api.
 *
 * MicroTime needs care with client-node 1.4: the typed model declares
 * acquireTime/renewTime as `V1MicroTime` (a Date), but
 *  - a plain Date is serialized with milliseconds (`.123Z`), which the
 *    apiserver rejects (it parses MicroTime as `.000000Z07:00`), and
 *  - reads hand back the raw string, not a Date, despite the declared type.
 * So this adapter writes MicroTime as ready-made strings (the serializer
 * passes values of types it has no model for through untouched) and
 * accepts either a string or a Date when reading.
 */
export class KubernetesLeaseClient implements LeaseClient {
  readonly description: string;
  private readonly api: CoordinationV1Api;
  private readonly namespace: string;
  private readonly name: string;
  private readonly fieldManager: string;

  constructor(options: KubernetesLeaseClientOptions) {
    this.api = options.kubeConfig.makeApiClient(CoordinationV1Api);
    this.namespace = options.namespace;
    this.name = options.name;
    this.fieldManager = options.fieldManager ?? DEFAULT_LEASE_FIELD_MANAGER;
    this.description = `${options.namespace}/${options.name}`;
  }

  async get(options: LeaseCallOptions = {}): Promise<StoredLease | undefined> {
    try {
      const lease = await this.api.readNamespacedLease(
        { namespace: this.namespace, name: this.name },
        callOptions(options.signal),
      );
      return toStored(lease);
    } catch (error) {
      if (statusCode(error) === 404) return undefined;
      throw describe(error, `read lease ${this.description}`);
    }
  }

  async create(record: LeaseRecord, options: LeaseCallOptions = {}): Promise<StoredLease> {
    const body: V1Lease = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: this.name, namespace: this.namespace },
      spec: toSpec(undefined, record),
    };
    try {
      const created = await this.api.createNamespacedLease(
        { namespace: this.namespace, body, fieldManager: this.fieldManager },
        callOptions(options.signal),
      );
      return toStored(created);
    } catch (error) {
      if (statusCode(error) === 409) {
        throw new LeaseConflictError(`lease ${this.description} was created by someone else`);
      }
      throw describe(error, `create lease ${this.description}`);
    }
  }

  async replace(
    current: StoredLease,
    record: LeaseRecord,
    options: LeaseCallOptions = {},
  ): Promise<StoredLease> {
    const base = (current.object ?? {}) as V1Lease;
    const body: V1Lease = {
      ...base,
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: {
        ...base.metadata,
        name: this.name,
        namespace: this.namespace,
        resourceVersion: current.resourceVersion,
        // Left out, the server keeps them as they are.
        managedFields: undefined,
      },
      spec: toSpec(base.spec, record),
    };
    try {
      const replaced = await this.api.replaceNamespacedLease(
        { namespace: this.namespace, name: this.name, body, fieldManager: this.fieldManager },
        callOptions(options.signal),
      );
      return toStored(replaced);
    } catch (error) {
      const code = statusCode(error);
      // 404: deleted under us; whoever wants it must create it again.
      if (code === 409 || code === 404) {
        throw new LeaseConflictError(
          `lease ${this.description} changed since resourceVersion ${current.resourceVersion}`,
        );
      }
      throw describe(error, `replace lease ${this.description}`);
    }
  }
}

/** Per-call options that make the request honour `signal` (client-node has no timeout option). */
function callOptions(signal: AbortSignal | undefined): ConfigurationOptions | undefined {
  if (signal === undefined) return undefined;
  return {
    middleware: [
      {
        pre: (context: RequestContext) => {
          context.setSignal(signal);
          return new Observable(Promise.resolve(context));
        },
        post: (context: ResponseContext) => new Observable(Promise.resolve(context)),
      },
    ],
    middlewareMergeStrategy: 'append',
  };
}

function toSpec(base: V1LeaseSpec | undefined, record: LeaseRecord): V1LeaseSpec {
  return {
    ...base,
    holderIdentity: record.holderIdentity,
    leaseDurationSeconds: record.leaseDurationSeconds,
    acquireTime: microTime(record.acquireTime),
    renewTime: microTime(record.renewTime),
    leaseTransitions: record.leaseTransitions,
  };
}

/** A MicroTime string, typed as the model wants it; sent as is (see the class comment). */
function microTime(value: string | undefined): V1MicroTime | undefined {
  return value as unknown as V1MicroTime | undefined;
}

/** Reads a MicroTime field whatever shape client-node handed it over in. */
function readMicroTime(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value instanceof Date) return formatMicroTime(value);
  return undefined;
}

function toStored(lease: V1Lease): StoredLease {
  const spec = lease.spec ?? {};
  return {
    resourceVersion: lease.metadata?.resourceVersion ?? '',
    record: {
      holderIdentity: spec.holderIdentity ?? '',
      // A Lease without a duration (someone else's tool) counts as expiring at once.
      leaseDurationSeconds: spec.leaseDurationSeconds ?? 0,
      acquireTime: readMicroTime(spec.acquireTime),
      renewTime: readMicroTime(spec.renewTime),
      leaseTransitions: spec.leaseTransitions ?? 0,
    },
    object: lease,
  };
}

function statusCode(error: unknown): number | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const code = (error as { code: unknown }).code;
    if (typeof code === 'number') return code;
  }
  return undefined;
}

/** One line saying what failed: the API's message when there is one, not the whole body. */
function describe(error: unknown, what: string): Error {
  const code = statusCode(error);
  let message = describeError(error);
  if (typeof error === 'object' && error !== null && 'body' in error) {
    const body = (error as { body: unknown }).body;
    try {
      const status = (typeof body === 'string' ? JSON.parse(body) : body) as { message?: string };
      if (status?.message) message = status.message;
    } catch {
      // keep the exception's own message
    }
  }
  return new Error(`${what} failed${code ? ` (HTTP ${code})` : ''}: ${message}`, {
    cause: error,
  });
}
