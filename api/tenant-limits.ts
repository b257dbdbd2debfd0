import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TenantLimit, TenantLimits } from '../core/config/api-settings.js';
import { RequestRefusedError } from './http-errors.js';
import { TenantGate } from './tenant-gate.js';

/** Seconds a caller refused for concurrency should wait: requests are short. */
const IN_FLIGHT_RETRY_AFTER_S = 1;

function limitOf(limits: TenantLimits, tenant: string): TenantLimit {
  return limits.overrides.get(tenant) ?? limits.defaults;
}

/**
 * Per-tenant bounds on the /v1 routes of `v1`, which must have set
 * `request.tenant` in an onRequest hook before this is registered:
 *
 * - a request rate (requests per minute, @fastify/rate-limit, counted in
 *   this process): over it, 429 RATE_LIMITED with Retry-After;
 * - requests in flight at once: every /v1 route reads or writes PostgreSQL,
 *   so a tenant holding more than its share of the pool would stall every
 *   other tenant. Past it a request waits in the tenant's own short line;
 *   when that is full or the wait too long, 429 TOO_MANY_IN_FLIGHT with
 *   Retry-After.
 */
export async function registerTenantLimits(
  v1: FastifyInstance,
  limits: TenantLimits,
): Promise<void> {
  await v1.register(rateLimit, {
    global: true,
    timeWindow: 60_000,
    keyGenerator: (request: FastifyRequest) => request.tenant,
    max: (request: FastifyRequest) => limitOf(limits, request.tenant).requestsPerMinute,
    allowList: (request: FastifyRequest) => limitOf(limits, request.tenant).requestsPerMinute === 0,
    errorResponseBuilder: (_request, context) =>
      new RequestRefusedError(
        429,
        'RATE_LIMITED',
        `more than ${context.max} requests per minute for this tenant; retry after ${context.after}`,
      ),
  });

  const gate = new TenantGate((tenant) => limitOf(limits, tenant), limits.maxWaitMs);
  // preParsing: after the rate limit (an onRequest hook), so a request over its rate never
  // takes a slot, and before the body is read, so a waiting request holds no parsed body.
  v1.addHook('preParsing', async (request, reply) => {
    const admission = await gate.enter(request.tenant);
    if (!admission.admitted) {
      const { concurrency } = limitOf(limits, request.tenant);
      reply.header('retry-after', String(IN_FLIGHT_RETRY_AFTER_S));
      throw new RequestRefusedError(
        429,
        'TOO_MANY_IN_FLIGHT',
        `more than ${concurrency} requests of this tenant in flight and its queue is full; ` +
          `retry after ${IN_FLIGHT_RETRY_AFTER_S} s`,
      );
    }
    // Released when the response is done, or when the connection closes first. Hazard: a
    // caller that hangs up frees its slot while its handler may still hold a connection.
    reply.raw.once('close', admission.release);
    reply.raw.once('finish', admission.release);
  });
}
