import type { FastifyDynamicSwaggerOptions } from '@fastify/swagger';
import type { TSchema } from '@sinclair/typebox';
import type { WorkflowDefinition } from '../workflow/definition.js';
import { ExecutionId, NO_NUL_PATTERN } from './schemas.js';

/** The workflows the document describes (the registry's latest version of each). */
export interface DocumentedWorkflows {
  names(): string[];
  latest(name: string): WorkflowDefinition;
  /** Every loaded version. */
  definitions(): WorkflowDefinition[];
}

type Json = Record<string, unknown>;

/** Any JSON value PostgreSQL can store: strings without NUL, nested as deep as needed. */
const STORABLE_JSON: Json = {
  description: 'Any JSON value; strings must not contain NUL characters',
  anyOf: [
    { type: 'string', pattern: NO_NUL_PATTERN, nullable: true },
    { type: 'number' },
    { type: 'boolean' },
    { type: 'array', items: { $ref: '#/components/schemas/StorableJson' } },
    { type: 'object', additionalProperties: { $ref: '#/components/schemas/StorableJson' } },
  ],
};

/**
 * A workflow's input or payload schema as the document shows it: a plain
 * JSON copy (TypeBox's symbols dropped) whose strings also say "no NUL",
 * which PostgreSQL cannot store.
 */
function documented(schema: TSchema | undefined): Json {
  if (schema === undefined) return { $ref: '#/components/schemas/StorableJson' };
  const copy = JSON.parse(JSON.stringify(schema)) as Json;
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) {
      node.forEach(visit);
      return;
    }
    if (typeof node !== 'object' || node === null) return;
    const record = node as Json;
    if (record.type === 'string' && record.pattern === undefined && record.format === undefined) {
      record.pattern = NO_NUL_PATTERN;
    }
    if (record.const !== undefined && record.enum === undefined) {
      // OpenAPI 3.0 has no const.
      record.enum = [record.const];
      delete record.const;
    }
    Object.values(record).forEach(visit);
  };
  visit(copy);
  return copy;
}

const idempotencyKeyDoc = {
  type: 'string',
  minLength: 1,
  maxLength: 200,
  pattern: NO_NUL_PATTERN,
  description: 'A retry with the same key and payload returns the first eventId',
};

/** POST /v1/executions, one alternative per registered workflow with its own input schema. */
function startBodies(workflows: DocumentedWorkflows): Json {
  return {
    anyOf: workflows.names().map((name) => {
      const definition = workflows.latest(name);
      return {
        type: 'object',
        title: `start ${name}`,
        additionalProperties: false,
        required: ['workflow'],
        properties: {
          workflow: { type: 'string', enum: [name] },
          executionId: JSON.parse(JSON.stringify(ExecutionId)),
          input: documented(definition.input),
        },
      };
    }),
  };
}

/**
 * POST /v1/executions/:id/events, one alternative per event name. Which
 * events an execution takes depends on its workflow, which the path does not
 * show: an event of another workflow is a 400 naming `event`.
 */
function enqueueBodies(workflows: DocumentedWorkflows): Json {
  const alternatives: Json[] = [];
  for (const name of workflows.names()) {
    const definition = workflows.latest(name);
    for (const [event, spec] of Object.entries(definition.events)) {
      alternatives.push({
        type: 'object',
        title: `${name}: ${event}`,
        additionalProperties: false,
        required: spec.payload ? ['event', 'payload'] : ['event'],
        properties: {
          event: { type: 'string', enum: [event] },
          payload: documented(spec.payload),
          idempotencyKey: idempotencyKeyDoc,
        },
      });
    }
  }
  return { anyOf: alternatives };
}

/**
 * @fastify/swagger options. Validation uses the generic route schemas (so a
 * 400 can name the field); the document shows, when the workflows are known,
 * the exact bodies each registered workflow accepts.
 */
export function swaggerOptions(
  workflows: DocumentedWorkflows | undefined,
): FastifyDynamicSwaggerOptions {
  return {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'flowpool API',
        version: '1.0.0',
        description:
          'Start workflow executions, enqueue events (202 Accepted: workers apply them ' +
          'asynchronously) and read state and history. The bearer token decides the tenant; ' +
          "another tenant's executions and events answer 404 as if they did not exist. Errors " +
          'are `{"error": {"code", "message", "field"?}}`; a 400 names the field.',
      },
      components: {
        securitySchemes: {
          bearerAuth: {
            type: 'http',
            scheme: 'bearer',
            description: 'A token of FLOWPOOL_API_TOKENS',
          },
        },
        schemas: { StorableJson: STORABLE_JSON } as never,
      },
      security: [{ bearerAuth: [] }],
      tags: [
        { name: 'executions', description: 'Executions and their events' },
        { name: 'dead-letters', description: 'Events that could not be processed' },
        { name: 'workflows', description: 'The workflow definitions this API has loaded' },
        { name: 'stream', description: "The worker pool's stream: is it keeping up" },
        { name: 'operations', description: 'Health, readiness, metrics, this document' },
      ],
    },
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, index) =>
        typeof json.$id === 'string' ? json.$id : `def-${index}`,
    },
    transform: ({ schema, url, route }) => {
      if (!workflows || route.method !== 'POST' || !schema?.body) return { schema, url };
      if (url === '/v1/executions') {
        return { schema: { ...schema, body: startBodies(workflows) }, url };
      }
      if (url === '/v1/executions/:executionId/events') {
        return { schema: { ...schema, body: enqueueBodies(workflows) }, url };
      }
      return { schema, url };
    },
  };
}

/** OpenAPI links: what a response's ids lead to (they let tools chain calls). */
export const LINKS = {
  started: {
    201: {
      GetExecution: {
        operationId: 'getExecution',
        parameters: { executionId: '$response.body#/executionId' },
      },
      ListEvents: {
        operationId: 'listEvents',
        parameters: { executionId: '$response.body#/executionId' },
      },
      EnqueueEvent: {
        operationId: 'enqueueEvent',
        parameters: { executionId: '$response.body#/executionId' },
      },
    },
  },
  enqueued: {
    202: {
      GetEvent: { operationId: 'getEvent', parameters: { eventId: '$response.body#/eventId' } },
    },
  },
};
