import type { TObject, TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { FastifySchemaCompiler } from 'fastify';
import { BadInputError } from '../core/errors.js';
import { findUnstorable } from '../core/storable.js';

/** Where in the request a schema applies; the field named in a 400 starts from here. */
type HttpPart = 'body' | 'querystring' | 'params' | 'headers';

/** `/input/title` → `input.title`; the empty path is the part itself. */
function fieldName(part: HttpPart, path: string): string {
  const field = path
    .split('/')
    .slice(1)
    .map((segment) => segment.replace(/~1/g, '/').replace(/~0/g, '~'))
    .join('.');
  return field === '' ? part : field;
}

const WHOLE_NUMBER = /^(0|[1-9][0-9]{0,15})$/;

/** The schema's integer properties, found once when the route's validator is compiled. */
function integerKeys(schema: TSchema): string[] {
  if (schema.type !== 'object') return [];
  const properties = (schema as TObject).properties ?? {};
  return Object.entries(properties)
    .filter(([, property]) => property.type === 'integer')
    .map(([key]) => key);
}

/**
 * Query strings and path parameters arrive as strings; integer properties
 * take only plain decimal digits ("1e3", "0x10", " 5" stay strings and fail).
 */
function convertIntegers(keys: readonly string[], value: unknown): unknown {
  if (keys.length === 0 || typeof value !== 'object' || value === null) return value;
  const converted: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  for (const key of keys) {
    const raw = converted[key];
    if (typeof raw === 'string' && WHOLE_NUMBER.test(raw)) converted[key] = Number(raw);
  }
  return converted;
}

/**
 * Validates with TypeBox instead of fastify's default ajv (which coerces body
 * types and silently drops unknown properties). Every failure is a
 * BadInputError naming the field, which the error handler answers with 400.
 */
export const validatorCompiler: FastifySchemaCompiler<TSchema> = ({ schema, httpPart }) => {
  const part = (httpPart ?? 'body') as HttpPart;
  const compiled = TypeCompiler.Compile(schema);
  const integers = part === 'body' ? [] : integerKeys(schema);
  return (data: unknown) => {
    try {
      let value = data;
      if (part === 'body') {
        if (value === null || value === undefined) {
          throw new BadInputError('body', 'is required: a JSON object');
        }
        const unstorable = findUnstorable(value);
        if (unstorable) throw new BadInputError(unstorable.path || 'body', unstorable.problem);
      } else {
        value = convertIntegers(integers, value);
      }
      const first = compiled.Errors(value).First();
      if (first) {
        const detail =
          first.path === '' && part === 'body' ? 'must be a JSON object' : first.message;
        throw new BadInputError(fieldName(part, first.path), detail);
      }
      return { value };
    } catch (error) {
      return { error: error as Error };
    }
  };
};
