import fs from 'node:fs';
import { Value } from '@sinclair/typebox/value';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { StreamNameError, splitStream } from '../render/stream.js';
import {
  CRD_YAML_PATH,
  type JsonSchema,
  poolOpenApiSchema,
  toStructuralSchema,
  workflowWorkerPoolCrd,
  workflowWorkerPoolCrdYaml,
} from './crd.js';
import { STREAM_PATTERN, WorkflowWorkerPoolSpecSchema, withDefaults } from './pool.js';

const committedFile = new URL(`../../${CRD_YAML_PATH}`, import.meta.url);

/** Every schema node below `schema`, with its path. */
function* nodes(schema: JsonSchema, at = ''): Generator<[string, JsonSchema]> {
  yield [at || '.', schema];
  const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
  for (const [name, child] of Object.entries(properties)) yield* nodes(child, `${at}.${name}`);
  if (schema.items) yield* nodes(schema.items as JsonSchema, `${at}[]`);
  if (typeof schema.additionalProperties === 'object' && schema.additionalProperties !== null) {
    yield* nodes(schema.additionalProperties as JsonSchema, `${at}{}`);
  }
}

describe('WorkflowWorkerPool CRD generation', () => {
  it('matches the committed crds/ file (run npm run gen:crd after changing operator/api/pool.ts)', () => {
    expect(fs.readFileSync(committedFile, 'utf8')).toBe(workflowWorkerPoolCrdYaml());
  });

  it('says it is generated and how to regenerate it', () => {
    const text = fs.readFileSync(committedFile, 'utf8');
    expect(text.startsWith('# Generated from operator/api/pool.ts')).toBe(true);
    expect(text).toContain('npm run gen:crd');
    expect(parse(text)).toEqual(JSON.parse(JSON.stringify(workflowWorkerPoolCrd())));
  });

  it('is plain OpenAPI: no TypeBox keys, no literal unions, no pattern properties', () => {
    const schema = poolOpenApiSchema();
    const json = JSON.stringify(schema);
    for (const key of ['"$id"', '"const"', '"patternProperties"', '"[Kind]"'])
      expect(json).not.toContain(key);
    for (const [path, node] of nodes(schema)) {
      expect(Object.getOwnPropertySymbols(node), path).toEqual([]);
      // Structural: every node says its type, or is an int-or-string.
      if (node['x-kubernetes-int-or-string'] !== true) expect(node.type, path).toBeTypeOf('string');
      expect(node.properties !== undefined && node.additionalProperties !== undefined, path).toBe(
        false,
      );
    }
  });

  it('describes every field, for kubectl explain', () => {
    const undocumented = [...nodes(poolOpenApiSchema())]
      .filter(([path, node]) => path !== '.metadata' && typeof node.description !== 'string')
      .map(([path]) => path)
      // values of string maps and quantities are described by their map
      .filter((path) => !path.endsWith('{}'));
    expect(undocumented).toEqual([]);
  });

  it('gives every validation rule a message and lists no defaulted field as required', () => {
    for (const [path, node] of nodes(poolOpenApiSchema())) {
      const rules = (node['x-kubernetes-validations'] ?? []) as Array<{
        rule: string;
        message?: string;
      }>;
      for (const rule of rules) expect(rule.message, `${path}: ${rule.rule}`).toMatch(/\w/);
      const properties = (node.properties ?? {}) as Record<string, JsonSchema>;
      for (const name of (node.required ?? []) as string[]) {
        expect(properties[name]?.default, `${path}.${name}`).toBeUndefined();
      }
    }
  });

  it('turns literal unions into enums and records into additionalProperties', () => {
    expect(
      toStructuralSchema({
        anyOf: [
          { const: 'a', type: 'string' },
          { const: 'b', type: 'string' },
        ],
      }),
    ).toEqual({ type: 'string', enum: ['a', 'b'] });
    expect(
      toStructuralSchema({ type: 'object', patternProperties: { '^(.*)$': { type: 'string' } } }),
    ).toEqual({
      type: 'object',
      additionalProperties: { type: 'string' },
    });
    expect(
      toStructuralSchema({
        type: 'object',
        patternProperties: { '^(.*)$': {} },
        'x-kubernetes-preserve-unknown-fields': true,
      }),
    ).toEqual({ type: 'object', 'x-kubernetes-preserve-unknown-fields': true });
  });
});

describe('withDefaults', () => {
  it('fills in the same defaults the API server does', () => {
    const spec = withDefaults({
      image: 'flowpool:0.1.0',
      redis: { url: 'redis://redis:6379' },
      database: { url: 'postgres://db/flowpool' },
      autoscaling: { maxReplicas: 3 },
    });
    expect(spec.redis.stream).toBe('workflow:events:global');
    expect(spec.redis.consumerGroup).toBe('workflow-workers');
    expect(spec.autoscaling).toEqual({
      enabled: true,
      minReplicas: 1,
      maxReplicas: 3,
      targetBacklogPerReplica: 100,
      activationBacklog: 1,
      pollIntervalSeconds: 5,
      scaleDownStabilizationSeconds: 120,
      scaleToZeroCooldownSeconds: 300,
    });
    expect(spec).toMatchObject({
      concurrency: 64,
      replicas: 1,
      drainTimeoutSeconds: 60,
      paused: false,
      podTemplate: {},
    });
    expect(Value.Check(WorkflowWorkerPoolSpecSchema, spec)).toBe(true);
  });

  it('does not change its argument', () => {
    const input = { image: 'x', redis: { url: 'redis://r' }, database: { url: 'postgres://d' } };
    const copy = structuredClone(input);
    withDefaults(input);
    expect(input).toEqual(copy);
  });
});

/** STREAM_PATTERN (RE2, as CEL runs it) as a JavaScript RegExp with the same meaning. */
function streamRegExp(): RegExp {
  expect(STREAM_PATTERN.startsWith('(?s)')).toBe(true);
  const body = STREAM_PATTERN.slice('(?s)'.length).replace(/\\x\{([0-9a-f]+)\}/gi, '\\u{$1}');
  return new RegExp(body, 'su');
}

function workersCanRead(stream: string): boolean {
  try {
    splitStream(stream);
    return true;
  } catch (error) {
    if (error instanceof StreamNameError) return false;
    throw error;
  }
}

describe('the spec.redis.stream rule', () => {
  const accepted = streamRegExp();

  it.each([
    ['workflow:events:global', true],
    [':global', true],
    ['a:b:c.d_e-f', true],
    [`x:${'p'.repeat(100)}`, true],
    ['jobs', false],
    ['workflow:events:', false],
    ['workflow:events:my pool', false],
    [`x:${'p'.repeat(101)}`, false],
    [' workflow:events:global', false],
    ['\u00a0workflow:events:global', false],
    ['\ufeffworkflow:events:global', false],
    ['\u0085workflow:events:global', true],
  ])('treats %j as workers do (%s)', (stream, readable) => {
    expect(workersCanRead(stream)).toBe(readable);
    expect(accepted.test(stream)).toBe(readable);
  });

  it('accepts exactly the streams the operator can pass to workers', () => {
    const tricky = fc.constantFrom(
      ':',
      'a',
      'Z',
      '0',
      '.',
      '_',
      '-',
      '/',
      'é',
      ' ',
      '\t',
      '\n',
      '\v',
      '\u00a0',
      '\u0085',
      '\u2028',
      '\u3000',
      '\ufeff',
    );
    const streams = fc.oneof(
      fc.string({ unit: tricky, maxLength: 12 }),
      fc.string({ unit: 'binary', maxLength: 12 }),
      fc
        .tuple(fc.string({ unit: tricky, maxLength: 4 }), fc.integer({ min: 98, max: 102 }))
        .map(([prefix, length]) => `${prefix}:${'p'.repeat(length)}`),
    );
    fc.assert(
      fc.property(streams, (stream) => accepted.test(stream) === workersCanRead(stream)),
      { numRuns: 5_000 },
    );
  });
});
