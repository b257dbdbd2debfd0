import type { JsonSchema } from '../types';

/** One control of a form generated from an event's payload schema. */
export interface Field {
  /** Property name; '' for a payload that is not an object (the whole payload is one field). */
  name: string;
  kind: 'text' | 'number' | 'integer' | 'boolean' | 'choice' | 'json';
  required: boolean;
  choices?: string[];
  description?: string;
}

function typeOf(schema: JsonSchema): string | undefined {
  return Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : schema.type;
}

function literalChoices(schema: JsonSchema): string[] | undefined {
  if (schema.enum?.every((value) => typeof value === 'string')) return schema.enum as string[];
  const options = schema.anyOf;
  if (options?.length && options.every((option) => typeof option.const === 'string')) {
    return options.map((option) => option.const as string);
  }
  return undefined;
}

function fieldFor(name: string, schema: JsonSchema, required: boolean): Field {
  const base = {
    name,
    required,
    ...(schema.description ? { description: schema.description } : {}),
  };
  const choices = literalChoices(schema);
  if (choices) return { ...base, kind: 'choice', choices };
  switch (typeOf(schema)) {
    case 'string':
      return { ...base, kind: 'text' };
    case 'number':
      return { ...base, kind: 'number' };
    case 'integer':
      return { ...base, kind: 'integer' };
    case 'boolean':
      return { ...base, kind: 'boolean' };
    default:
      return { ...base, kind: 'json' };
  }
}

/** The controls for a payload schema: none for an event without a payload. */
export function fieldsOf(schema: JsonSchema | null | undefined): Field[] {
  if (!schema) return [];
  if (typeOf(schema) === 'object' && schema.properties) {
    const required = new Set(schema.required ?? []);
    return Object.entries(schema.properties).map(([name, property]) =>
      fieldFor(name, property, required.has(name)),
    );
  }
  return [fieldFor('', schema, true)];
}

/** A field's text could not become a value; names the field. */
export class FieldError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

function parseField(field: Field, text: string): unknown {
  const label = field.name || 'payload';
  switch (field.kind) {
    case 'text':
    case 'choice':
      return text;
    case 'boolean':
      return text === 'true';
    case 'number':
    case 'integer': {
      const number = Number(text);
      if (text.trim() === '' || !Number.isFinite(number))
        throw new FieldError(field.name, `${label} must be a number`);
      if (field.kind === 'integer' && !Number.isInteger(number))
        throw new FieldError(field.name, `${label} must be a whole number`);
      return number;
    }
    case 'json':
      try {
        return JSON.parse(text);
      } catch {
        throw new FieldError(field.name, `${label} must be valid JSON`);
      }
  }
}

/**
 * The payload the form's texts stand for: optional fields left empty are
 * left out; the API checks the result against the schema again.
 */
export function payloadOf(fields: Field[], texts: Record<string, string>): unknown {
  if (fields.length === 0) return undefined;
  if (fields.length === 1 && fields[0]!.name === '') return parseField(fields[0]!, texts[''] ?? '');
  const payload: Record<string, unknown> = {};
  for (const field of fields) {
    const text = texts[field.name] ?? (field.kind === 'boolean' ? 'false' : '');
    if (text === '' && !field.required) continue;
    if (text === '' && field.kind !== 'text')
      throw new FieldError(field.name, `${field.name} is required`);
    payload[field.name] = parseField(field, text);
  }
  return payload;
}
