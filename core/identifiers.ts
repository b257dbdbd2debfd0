/**
 * The one rule for tenants and execution ids: what a stream notice carries,
 * what fits in a URL path segment, and what the API's schemas accept.
 */
export const ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$';
export const IDENTIFIER_RULE = 'must be 1-200 characters of letters, digits, ".", "_", ":" or "-"';

const ID = new RegExp(ID_PATTERN);

export function isIdentifier(value: string): boolean {
  return ID.test(value);
}
