import type { FastifyInstance } from 'fastify';
import type { ExecutionQueries } from '../store/execution-queries.js';
import type { BacklogReading } from '../stream/backlog/index.js';
import * as C from './console-schemas.js';
import * as S from './schemas.js';
import { sharedReading } from './shared-reading.js';

/** The applied chart: 60 buckets of 10 seconds, the last 10 minutes. */
const BUCKET_SECONDS = 10;
const BUCKETS = 60;
/** How old a backlog reading may be when shown: one XINFO per second per api, whatever the polling. */
const BACKLOG_MAX_AGE_MS = 1_000;
/** Most consumers shown; a pool has one per worker loop, far fewer than this. */
const MAX_CONSUMERS = 200;

/** Reads the pool's stream backlog (never throws: a failed read says so). */
export type StreamBacklog = () => Promise<BacklogReading>;

/**
 * GET /v1/stream. The backlog and consumers describe the pool's one stream,
 * shared by all tenants: counts and worker ids, nothing of any tenant. What
 * was applied is the caller's own, from PostgreSQL.
 */
export function registerStreamRoutes(
  app: FastifyInstance,
  backlog: StreamBacklog,
  queries: Pick<ExecutionQueries, 'decided'>,
): void {
  const readBacklog = sharedReading(backlog, BACKLOG_MAX_AGE_MS);
  app.get(
    '/v1/stream',
    {
      schema: {
        tags: ['stream'],
        operationId: 'streamHealth',
        summary: 'Is the pool keeping up: backlog, consumers, events applied lately',
        description:
          "backlog and consumers are the worker pool's, shared by every tenant (counts and " +
          "worker ids only); applied is this tenant's events per 10-second bucket over the " +
          'last 10 minutes. When Redis cannot be read, backlog.readOk is false and the rest ' +
          'still answers.',
        response: {
          200: { ...C.StreamHealth, description: 'Stream health' },
          ...S.errorResponses(),
        },
      },
    },
    async (request) => {
      const [reading, decided] = await Promise.all([
        readBacklog(),
        queries.decided(request.tenant, BUCKET_SECONDS, BUCKETS),
      ]);
      const consumers = reading.readOk ? (reading.consumers ?? []) : [];
      return {
        backlog: reading.readOk
          ? { lag: reading.lag, pending: reading.pending, readOk: true }
          : { lag: null, pending: null, readOk: false, errorCode: reading.error.code },
        consumers: [...consumers]
          .sort((a, b) => b.pending - a.pending || (a.name < b.name ? -1 : 1))
          .slice(0, MAX_CONSUMERS)
          .map(({ name, pending, idleMs }) => ({ name, pending, idleMs })),
        applied: decided.map((bucket) => ({
          at: bucket.at.toISOString(),
          count: bucket.applied,
          rejected: bucket.rejected,
        })),
        bucketSeconds: BUCKET_SECONDS,
      };
    },
  );
}
