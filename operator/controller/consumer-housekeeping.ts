/**
 * What the operator does with a pool's consumers besides counting them:
 * marks pods with their deletion cost before a scale down, and removes
 * consumers whose pod is gone and who hold nothing. Both are best effort:
 * a failure is logged and the next poll or scale down tries again.
 */
import type { Logger } from 'pino';
import { cleanText, logText } from '../../core/error-record.js';
import type { ConsumerInfo } from '../../stream/backlog/types.js';
import type { WorkflowWorkerPool } from '../api/pool.js';
import { isNotFound } from '../kube/client.js';
import type { KubeTarget, Pod } from '../kube/types.js';
import { selectorString } from '../render/deployment.js';
import type { BacklogClient } from './redis.js';
import { deletionCostPatches, orphanedConsumers, POD_DELETION_COST } from './scaling.js';

/** One pool, as housekeeping needs it. */
export interface PoolTarget {
  namespace: string;
  name: string;
  pool: WorkflowWorkerPool;
  log: Logger;
  /** False once the controller has forgotten the pool: no client may be opened for it then. */
  live: () => boolean;
}

/** The pool's backlog client, or undefined when its Redis URL cannot be resolved. */
export type ClientFor = (target: PoolTarget) => Promise<BacklogClient | undefined>;

export class ConsumerHousekeeping {
  constructor(
    private readonly kube: Pick<KubeTarget, 'listPods' | 'annotatePod'>,
    private readonly clientFor: ClientFor,
  ) {}

  /**
   * Marks pods with their deletion cost before a scale down, whoever asked
   * for it (the scaler, `kubectl scale`, a lowered maxReplicas), so the
   * ReplicaSet removes idle workers first and busy ones last. When Redis or
   * the pod list cannot be read, the scale down still happens unmarked:
   * the workers drain on SIGTERM either way.
   */
  async markDeletionCosts(target: PoolTarget): Promise<void> {
    const { namespace, name, pool, log } = target;
    const client = await this.clientFor(target);
    if (client === undefined) return;
    const read = await client.consumers(pool.spec.redis.stream, pool.spec.redis.consumerGroup);
    if (!read.readOk) {
      log.warn({ err: cleanText(read.error.message) }, 'scaling down without pod deletion costs');
      return;
    }
    let pods: Pod[];
    try {
      pods = await this.kube.listPods(namespace, selectorString(name));
    } catch (error) {
      log.warn({ err: logText(error) }, 'scaling down without pod deletion costs');
      return;
    }
    for (const { name: pod, cost } of deletionCostPatches(pods, read.consumers)) {
      try {
        await this.kube.annotatePod(namespace, pod, { [POD_DELETION_COST]: cost });
      } catch (error) {
        if (!isNotFound(error)) {
          log.warn({ pod, err: logText(error) }, 'could not mark pod deletion cost');
        }
      }
    }
  }

  /** Removes consumers (read before this call) whose pod is gone and who hold nothing. */
  async forgetDeletedConsumers(target: PoolTarget, consumers: ConsumerInfo[]): Promise<void> {
    const { namespace, name, pool, log } = target;
    let podNames: Set<string>;
    try {
      // Pods are listed after the consumers were read: a consumer's pod existed
      // before the consumer did, so a pod missing here is really gone.
      const pods = await this.kube.listPods(namespace, selectorString(name));
      podNames = new Set(pods.map((pod) => pod.metadata?.name ?? ''));
    } catch (error) {
      log.warn({ err: logText(error) }, 'could not list worker pods');
      return;
    }
    const orphans = orphanedConsumers(consumers, podNames);
    if (orphans.length === 0) return;
    const client = await this.clientFor(target);
    if (client === undefined) return;
    const { stream, consumerGroup } = pool.spec.redis;
    for (const consumer of orphans) {
      const result = await client.removeConsumer(stream, consumerGroup, consumer.name);
      if (result.outcome === 'removed') {
        log.info({ consumer: consumer.name }, 'removed the consumer of a deleted pod');
      } else if (result.outcome === 'failed') {
        log.warn(
          { consumer: consumer.name, err: cleanText(result.error.message) },
          'could not remove consumer',
        );
      }
    }
  }
}
