import type { Knex } from 'knex';
import {
  countExecutions,
  type ExecutionCounts,
  type ExecutionFilter,
  type ListedExecution,
  type ListPosition,
  listExecutions,
} from './execution-list.js';
import {
  type ActionPosition,
  type ActionRecord,
  actionsPage,
  type DecidedBucket,
  decidedPerBucket,
  type PageBounds,
  type Paged,
  type SnapshotRecord,
  snapshotsPage,
} from './execution-parts.js';

export type {
  ActionPosition,
  ActionRecord,
  DecidedBucket,
  ExecutionCounts,
  ExecutionFilter,
  ListedExecution,
  ListPosition,
  PageBounds,
  Paged,
  SnapshotRecord,
};

/**
 * Reads for people looking at a tenant's executions (the console and its
 * API routes): lists, counts, an execution's actions and snapshots, recent
 * throughput. Every read takes the tenant and filters by it; none writes.
 */
export class ExecutionQueries {
  constructor(private readonly knex: Knex) {}

  list(
    tenant: string,
    filter: ExecutionFilter,
    page: { limit: number; after?: ListPosition },
  ): Promise<{ executions: ListedExecution[]; more: boolean }> {
    return listExecutions(this.knex, tenant, filter, page);
  }

  counts(tenant: string, filter: ExecutionFilter, maxGroups: number): Promise<ExecutionCounts> {
    return countExecutions(this.knex, tenant, filter, maxGroups);
  }

  actions(
    tenant: string,
    executionId: string,
    bounds: PageBounds & { after?: ActionPosition },
  ): Promise<Paged<ActionRecord>> {
    return actionsPage(this.knex, tenant, executionId, bounds);
  }

  snapshots(
    tenant: string,
    executionId: string,
    bounds: PageBounds & { beforeSeq?: number },
  ): Promise<Paged<SnapshotRecord>> {
    return snapshotsPage(this.knex, tenant, executionId, bounds);
  }

  decided(tenant: string, bucketSeconds: number, buckets: number): Promise<DecidedBucket[]> {
    return decidedPerBucket(this.knex, tenant, bucketSeconds, buckets);
  }
}
