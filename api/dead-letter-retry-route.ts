import type { Static } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ApiServices } from './app.js';
import * as C from './console-schemas.js';
import { answerTo, publicAnswer, UNAVAILABLE } from './http-errors.js';
import { askedOnce, type Readiness } from './readiness.js';
import * as S from './schemas.js';

type RetryResult = Static<typeof C.RetryDeadLettersResult>['results'][number];

/** POST /v1/dead-letters/retry: many dead letters back to pending, each with its own result. */
export function registerDeadLetterRetryRoute(
  app: FastifyInstance,
  runtime: Pick<ApiServices, 'deadLetters' | 'transport'>,
  readiness: Readiness,
): void {
  /** What the single retry would have answered for this event, as public as that answer. */
  async function retryOne(
    request: FastifyRequest,
    eventId: string,
    readinessOfRequest: Readiness,
  ): Promise<RetryResult> {
    try {
      const { executionId } = await runtime.deadLetters.retry(request.tenant, eventId);
      return { eventId, status: 'retried', executionId };
    } catch (error) {
      const answer = await answerTo(
        error,
        readinessOfRequest,
        request.log,
        'dead-letter retry failed',
      );
      const sent = publicAnswer(answer);
      const { code, message } = sent.body.error;
      return { eventId, status: 'error', httpStatus: sent.status, error: { code, message } };
    }
  }

  app.post(
    '/v1/dead-letters/retry',
    {
      schema: {
        tags: ['dead-letters'],
        operationId: 'retryDeadLetters',
        summary: 'Put many dead events back to pending and notify the workers',
        description:
          `Up to ${C.MAX_RETRY_EVENTS} distinct event ids, retried one after another. Each ` +
          'gets its own result, in order: retried, or error with the status and body the ' +
          'single retry would have answered (NOT_FOUND, NOT_DEAD, ...). Once PostgreSQL is ' +
          'found unreachable the rest are not tried and carry the same 503 result. When Redis ' +
          'is down, or nothing was retried before PostgreSQL failed, nothing is changed and the ' +
          'answer is 503.',
        body: C.RetryDeadLettersBody,
        response: {
          200: { ...C.RetryDeadLettersResult, description: 'A result per event, in order' },
          ...S.errorResponses(413, 415),
        },
      },
    },
    async (request: FastifyRequest<{ Body: Static<typeof C.RetryDeadLettersBody> }>, reply) => {
      // Without Redis the notices cannot go out: refuse before changing anything.
      await runtime.transport.ping();
      const results: RetryResult[] = [];
      let outage: RetryResult | undefined;
      const readinessOfRequest = askedOnce(readiness);
      for (const eventId of request.body.eventIds) {
        // Once the store is found unreachable the rest are not tried: each
        // would wait for a connection, then for a readiness ping, and a
        // request of 100 ids would hold its caller for minutes.
        const result = outage
          ? { ...outage, eventId }
          : await retryOne(request, eventId, readinessOfRequest);
        if (result.status === 'error' && result.httpStatus === 503) outage = result;
        results.push(result);
      }
      // Nothing retried and the store is down: one answer a caller can retry as a whole.
      const retried = results.some((result) => result.status === 'retried');
      if (!retried && results.some((r) => r.status === 'error' && r.httpStatus === 503)) {
        return reply.code(503).send(UNAVAILABLE.body);
      }
      return { results };
    },
  );
}
