/**
 * Builds the WorkflowWorkerPool CustomResourceDefinition from the TypeBox
 * schema in pool.ts. The committed crds/ YAML is generated from this (see
 * generate-crd.ts) and a test keeps the two equal.
 */
import type { TSchema } from '@sinclair/typebox';
import { stringify } from 'yaml';
import {
  CATEGORY,
  CRD_NAME,
  GROUP,
  KIND,
  LIST_KIND,
  PLURAL,
  SHORT_NAME,
  SINGULAR,
  VERSION,
  WorkflowWorkerPoolSchema,
} from './pool.js';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** An OpenAPI v3 schema object with its JSON key names (`x-kubernetes-validations`, `default`, ...). */
export type JsonSchema = { [key: string]: Json };

export interface PrinterColumn {
  name: string;
  type: 'integer' | 'number' | 'string' | 'boolean' | 'date';
  jsonPath: string;
  description?: string;
  priority?: number;
}

/**
 * A CustomResourceDefinition as plain JSON, exactly as it is sent to the API
 * server. (The client library's typed model renames schema keys such as
 * `x-kubernetes-validations`, so send this as is rather than through it.)
 */
export interface CustomResourceDefinitionManifest {
  apiVersion: 'apiextensions.k8s.io/v1';
  kind: 'CustomResourceDefinition';
  metadata: { name: string; labels?: Record<string, string> };
  spec: {
    group: string;
    scope: 'Namespaced' | 'Cluster';
    names: {
      kind: string;
      listKind: string;
      plural: string;
      singular: string;
      shortNames: string[];
      categories: string[];
    };
    versions: Array<{
      name: string;
      served: boolean;
      storage: boolean;
      schema: { openAPIV3Schema: JsonSchema };
      subresources: {
        status: Record<string, never>;
        scale: { specReplicasPath: string; statusReplicasPath: string; labelSelectorPath: string };
      };
      additionalPrinterColumns: PrinterColumn[];
    }>;
  };
}

/** Keys TypeBox or JSON Schema use that a CRD schema must not carry. */
const DROPPED_KEYS = new Set(['$id', '$schema', '$ref', 'examples', 'const']);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Turns a TypeBox schema into a plain OpenAPI v3 structural schema:
 *  - drops TypeBox's symbol keys ([Kind], [OptionalKind], ...) and $id-like keys;
 *  - a union of string literals becomes `type: string` with an `enum`;
 *  - a record (`patternProperties: {'^(.*)$': X}`) becomes `additionalProperties: X`,
 *    or nothing under `x-kubernetes-preserve-unknown-fields`;
 *  - empty `properties` and `required` lists are left out.
 */
export function toStructuralSchema(schema: unknown): Json {
  if (Array.isArray(schema)) return schema.map((item) => toStructuralSchema(item));
  if (!isRecord(schema)) return schema as Json;

  const source: Record<string, unknown> = { ...schema };
  const anyOf = source.anyOf;
  if (
    Array.isArray(anyOf) &&
    anyOf.length > 0 &&
    anyOf.every((item) => isRecord(item) && 'const' in item)
  ) {
    const types = new Set(anyOf.map((item) => (item as Record<string, unknown>).type));
    if (types.size !== 1) throw new Error('a literal union in a CRD schema must have one type');
    delete source.anyOf;
    source.type = [...types][0];
    source.enum = anyOf.map((item) => (item as Record<string, unknown>).const);
  }
  const patternProperties = source.patternProperties;
  if (patternProperties !== undefined) {
    delete source.patternProperties;
    const values = isRecord(patternProperties) ? Object.values(patternProperties) : [];
    if (values.length !== 1) throw new Error('a record in a CRD schema must have one value schema');
    if (source['x-kubernetes-preserve-unknown-fields'] !== true)
      source.additionalProperties = values[0];
  }

  // A field with a default is never missing once the API server has
  // defaulted it, so users need not set it: list it as optional.
  if (Array.isArray(source.required) && isRecord(source.properties)) {
    const properties = source.properties;
    source.required = source.required.filter(
      (name) => !(isRecord(properties[name]) && 'default' in properties[name]),
    );
  }

  const out: Record<string, Json> = {};
  for (const key of orderedKeys(Object.keys(source))) {
    const value = source[key];
    if (DROPPED_KEYS.has(key)) continue;
    if (key === 'properties' && isRecord(value)) {
      if (Object.keys(value).length === 0) continue;
      const properties: Record<string, Json> = {};
      for (const [name, property] of Object.entries(value))
        properties[name] = toStructuralSchema(property);
      out.properties = properties;
      continue;
    }
    if (key === 'required' && Array.isArray(value) && value.length === 0) continue;
    if (key === 'default' || key === 'enum' || key === 'x-kubernetes-validations') {
      out[key] = structuredClone(value) as Json;
      continue;
    }
    out[key] = toStructuralSchema(value);
  }
  return out;
}

/** Keys in a fixed, readable order: what a field is first, then its rules, then its children. */
const KEY_ORDER = [
  'description',
  'type',
  'format',
  'enum',
  'default',
  'minimum',
  'maximum',
  'minLength',
  'maxLength',
  'pattern',
  'minItems',
  'maxItems',
];
const TRAILING_KEYS = ['required', 'properties', 'additionalProperties', 'items', 'anyOf'];

function orderedKeys(keys: string[]): string[] {
  const rank = (key: string): number => {
    const leading = KEY_ORDER.indexOf(key);
    if (leading >= 0) return leading;
    const trailing = TRAILING_KEYS.indexOf(key);
    if (trailing >= 0) return 1_000 + trailing;
    return 500;
  };
  return [...keys].sort((a, b) => rank(a) - rank(b) || (rank(a) === 500 ? a.localeCompare(b) : 0));
}

/** The OpenAPI v3 schema of the WorkflowWorkerPool version, as the CRD carries it. */
export function poolOpenApiSchema(schema: TSchema = WorkflowWorkerPoolSchema): JsonSchema {
  const structural = toStructuralSchema(schema) as JsonSchema;
  // The API server owns metadata's schema; a CRD may only say it is an object.
  const properties = structural.properties as JsonSchema | undefined;
  if (properties?.metadata !== undefined) properties.metadata = { type: 'object' };
  return structural;
}

/** The complete WorkflowWorkerPool CustomResourceDefinition. */
export function workflowWorkerPoolCrd(): CustomResourceDefinitionManifest {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: CRD_NAME,
      labels: { 'app.kubernetes.io/name': 'flowpool', 'app.kubernetes.io/component': 'crd' },
    },
    spec: {
      group: GROUP,
      scope: 'Namespaced',
      names: {
        kind: KIND,
        listKind: LIST_KIND,
        plural: PLURAL,
        singular: SINGULAR,
        shortNames: [SHORT_NAME],
        categories: [CATEGORY],
      },
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          schema: { openAPIV3Schema: poolOpenApiSchema() },
          subresources: {
            status: {},
            scale: {
              specReplicasPath: '.spec.replicas',
              statusReplicasPath: '.status.replicas',
              labelSelectorPath: '.status.selector',
            },
          },
          additionalPrinterColumns: [
            {
              name: 'Desired',
              type: 'integer',
              jsonPath: '.status.desiredReplicas',
              description: 'Workers the operator asks for',
            },
            {
              name: 'Ready',
              type: 'integer',
              jsonPath: '.status.readyReplicas',
              description: 'Workers that are ready',
            },
            {
              name: 'Backlog',
              type: 'integer',
              jsonPath: '.status.backlog',
              description: 'Undelivered plus unacknowledged stream entries',
            },
            {
              name: 'Min',
              type: 'integer',
              jsonPath: '.spec.autoscaling.minReplicas',
              description: 'Fewest workers while autoscaling',
            },
            {
              name: 'Max',
              type: 'integer',
              jsonPath: '.spec.autoscaling.maxReplicas',
              description: 'Most workers while autoscaling',
            },
            {
              name: 'Lag Source',
              type: 'string',
              jsonPath: '.status.lagSource',
              description: 'Where the lag figure came from',
              priority: 1,
            },
            {
              name: 'Paused',
              type: 'boolean',
              jsonPath: '.spec.paused',
              description: 'Whether the operator leaves the pool alone',
              priority: 1,
            },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
        },
      ],
    },
  };
}

/** Where the generated CRD lives, relative to the repository root. */
export const CRD_YAML_PATH = `crds/${CRD_NAME}.yaml`;

/** The text of the committed CRD file: a header, then the CRD as YAML. */
export function workflowWorkerPoolCrdYaml(): string {
  const header = [
    '# Generated from operator/api/pool.ts by operator/api/generate-crd.ts. Do not edit by hand.',
    '# Regenerate with: npm run gen:crd',
  ].join('\n');
  return `${header}\n${stringify(workflowWorkerPoolCrd(), { lineWidth: 0 })}`;
}
