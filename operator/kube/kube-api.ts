import type { KubeConfig, V1Pod, V1Secret } from '@kubernetes/client-node';
import { API_VERSION, GROUP, PLURAL, VERSION, type WorkflowWorkerPool } from '../api/pool.js';
import { KubeApiError, KubeClient } from './client.js';
import type {
  Deployment,
  KubeEvent,
  KubeObject,
  KubeTarget,
  ListWatch,
  PoolStatusPatch,
  WatchEvent,
} from './types.js';

/** The field manager of every write the operator makes. */
const FIELD_MANAGER = 'flowpool-operator';
const EVENT_SOURCE = 'flowpool-operator';

const APPLY_PATCH = 'application/apply-patch+yaml';
const MERGE_PATCH = 'application/merge-patch+json';

function scoped(prefix: string, namespace: string | undefined, plural: string): string {
  return namespace === undefined
    ? `${prefix}/${plural}`
    : `${prefix}/namespaces/${encodeURIComponent(namespace)}/${plural}`;
}

const POOLS_PREFIX = `/apis/${GROUP}/${VERSION}`;
const APPS_PREFIX = '/apis/apps/v1';
const CORE_PREFIX = '/api/v1';

interface List<T> {
  metadata?: { resourceVersion?: string; continue?: string };
  items: T[];
}

/** Watches end on the server after a while (randomised, so many watchers do not reconnect at once). */
function watchTimeoutSeconds(): number {
  return 240 + Math.floor(Math.random() * 120);
}

class PathListWatch<T extends KubeObject> implements ListWatch<T> {
  constructor(
    private readonly client: KubeClient,
    private readonly path: string,
    private readonly labelSelector: string | undefined,
    readonly description: string,
    private readonly pageSize = 500,
  ) {}

  async list(): Promise<{ items: T[]; resourceVersion: string }> {
    const items: T[] = [];
    let next: string | undefined;
    let resourceVersion = '';
    do {
      const page: List<T> = await this.client.request<List<T>>('GET', this.path, {
        query: { labelSelector: this.labelSelector, limit: this.pageSize, continue: next },
      });
      items.push(...page.items);
      resourceVersion = page.metadata?.resourceVersion ?? resourceVersion;
      next = page.metadata?.continue || undefined;
    } while (next !== undefined);
    return { items, resourceVersion };
  }

  watch(
    resourceVersion: string,
    onEvent: (event: WatchEvent<T>) => void,
    signal: AbortSignal,
  ): Promise<void> {
    return this.client.watch<T>(
      this.path,
      {
        labelSelector: this.labelSelector,
        resourceVersion,
        allowWatchBookmarks: true,
        timeoutSeconds: watchTimeoutSeconds(),
      },
      onEvent,
      signal,
    );
  }
}

/** The KubeTarget on a real API server. */
export class KubeApi implements KubeTarget {
  readonly client: KubeClient;

  /** `scope` ends every call when it aborts (see KubeClient). */
  constructor(config: KubeConfig, scope?: AbortSignal) {
    this.client = new KubeClient(config, undefined, scope);
  }

  pools(namespace: string | undefined): ListWatch<WorkflowWorkerPool> {
    return new PathListWatch<WorkflowWorkerPool>(
      this.client,
      scoped(POOLS_PREFIX, namespace, PLURAL),
      undefined,
      `${PLURAL} (${namespace ?? 'all namespaces'})`,
    );
  }

  deployments(namespace: string | undefined, labelSelector: string): ListWatch<Deployment> {
    return new PathListWatch<Deployment>(
      this.client,
      scoped(APPS_PREFIX, namespace, 'deployments'),
      labelSelector,
      `deployments ${labelSelector} (${namespace ?? 'all namespaces'})`,
    );
  }

  async getDeployment(namespace: string, name: string): Promise<Deployment | undefined> {
    try {
      return await this.client.request<Deployment>(
        'GET',
        `${scoped(APPS_PREFIX, namespace, 'deployments')}/${encodeURIComponent(name)}`,
      );
    } catch (error) {
      if (error instanceof KubeApiError && error.status === 404) return undefined;
      throw error;
    }
  }

  async applyDeployment(deployment: Deployment): Promise<Deployment> {
    const { namespace, name } = deployment.metadata ?? {};
    if (!namespace || !name) throw new Error('applyDeployment: metadata.namespace and name needed');
    return this.client.request<Deployment>(
      'PATCH',
      `${scoped(APPS_PREFIX, namespace, 'deployments')}/${encodeURIComponent(name)}`,
      {
        query: { fieldManager: FIELD_MANAGER, force: true },
        body: deployment,
        contentType: APPLY_PATCH,
      },
    );
  }

  patchPoolStatus(
    namespace: string,
    name: string,
    status: PoolStatusPatch,
  ): Promise<WorkflowWorkerPool> {
    return this.client.request<WorkflowWorkerPool>(
      'PATCH',
      `${scoped(POOLS_PREFIX, namespace, PLURAL)}/${encodeURIComponent(name)}/status`,
      {
        query: { fieldManager: FIELD_MANAGER },
        body: { status },
        contentType: MERGE_PATCH,
      },
    );
  }

  async listPods(namespace: string, labelSelector: string): Promise<V1Pod[]> {
    const list = await this.client.request<List<V1Pod>>(
      'GET',
      scoped(CORE_PREFIX, namespace, 'pods'),
      { query: { labelSelector } },
    );
    return list.items;
  }

  async annotatePod(
    namespace: string,
    name: string,
    annotations: Record<string, string | null>,
  ): Promise<void> {
    await this.client.request(
      'PATCH',
      `${scoped(CORE_PREFIX, namespace, 'pods')}/${encodeURIComponent(name)}`,
      {
        query: { fieldManager: FIELD_MANAGER },
        body: { metadata: { annotations } },
        contentType: MERGE_PATCH,
      },
    );
  }

  async readSecretKey(namespace: string, name: string, key: string) {
    let secret: V1Secret;
    try {
      secret = await this.client.request<V1Secret>(
        'GET',
        `${scoped(CORE_PREFIX, namespace, 'secrets')}/${encodeURIComponent(name)}`,
      );
    } catch (error) {
      if (error instanceof KubeApiError && error.status === 404) {
        return { found: 'secret-missing' as const };
      }
      throw error;
    }
    const encoded = secret.data?.[key];
    if (encoded !== undefined) {
      return { found: 'value' as const, value: Buffer.from(encoded, 'base64').toString('utf8') };
    }
    const plain = secret.stringData?.[key];
    if (plain !== undefined) return { found: 'value' as const, value: plain };
    return { found: 'key-missing' as const };
  }

  async emitEvent(event: KubeEvent): Promise<void> {
    const now = new Date().toISOString();
    const { involvedObject } = event;
    await this.client.request('POST', scoped(CORE_PREFIX, involvedObject.namespace, 'events'), {
      body: {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { generateName: `${involvedObject.name}.`, namespace: involvedObject.namespace },
        involvedObject,
        type: event.type,
        reason: event.reason,
        message: event.message.slice(0, 1024),
        source: { component: EVENT_SOURCE },
        reportingComponent: EVENT_SOURCE,
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      },
    });
  }

  close(): void {
    this.client.close();
  }
}

/** A pool as an Event's involvedObject. */
export function poolReference(pool: WorkflowWorkerPool) {
  return {
    apiVersion: API_VERSION,
    kind: 'WorkflowWorkerPool',
    namespace: pool.metadata.namespace ?? 'default',
    name: pool.metadata.name ?? '',
    uid: pool.metadata.uid,
    resourceVersion: pool.metadata.resourceVersion,
  };
}
