import { describe, expect, it } from 'vitest';
import { FieldError, fieldsOf, payloadOf } from './schema-fields';

const assign = {
  type: 'object',
  properties: {
    assignee: { type: 'string' },
    priority: { anyOf: [{ const: 'low' }, { const: 'high' }] },
    points: { type: 'integer' },
    urgent: { type: 'boolean' },
    tags: { type: 'array', items: { type: 'string' } },
  },
  required: ['assignee'],
};

describe('fields from a payload schema', () => {
  it('gives one control per property, of the kind its type asks for', () => {
    expect(fieldsOf(assign).map((f) => [f.name, f.kind, f.required])).toEqual([
      ['assignee', 'text', true],
      ['priority', 'choice', false],
      ['points', 'integer', false],
      ['urgent', 'boolean', false],
      ['tags', 'json', false],
    ]);
    expect(fieldsOf(assign)[1]?.choices).toEqual(['low', 'high']);
  });

  it('gives no control for an event without payload, one for a payload that is not an object', () => {
    expect(fieldsOf(null)).toEqual([]);
    expect(fieldsOf({ type: 'string' })).toEqual([{ name: '', kind: 'text', required: true }]);
  });

  it('turns the texts into a payload, leaving out empty optional fields', () => {
    const fields = fieldsOf(assign);
    expect(payloadOf(fields, { assignee: 'ana', points: '3', tags: '["x"]' })).toEqual({
      assignee: 'ana',
      points: 3,
      urgent: false,
      tags: ['x'],
    });
  });

  it('names the field whose text is not a value of its kind', () => {
    const fields = fieldsOf(assign);
    const attempt = () => payloadOf(fields, { assignee: 'ana', points: '2.5' });
    expect(attempt).toThrow(FieldError);
    expect(attempt).toThrow('points must be a whole number');
    expect(() => payloadOf(fields, { assignee: 'ana', tags: '[' })).toThrow(
      'tags must be valid JSON',
    );
  });
});
