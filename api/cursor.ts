import { BadInputError } from '../core/errors.js';

/**
 * Opaque page cursors: the position where a page ended, as base64url JSON.
 * Opaque to callers so the position's shape may change; not secret (it holds
 * only keys of rows the caller has already been shown). A cursor is checked
 * like any other input: anything that does not decode to a valid position is
 * a 400 naming `cursor`.
 */

/** Longest cursor accepted (a 200-character id and a timestamp fit with room to spare). */
export const MAX_CURSOR_CHARS = 600;

export function encodeCursor(position: unknown): string {
  return Buffer.from(JSON.stringify(position), 'utf8').toString('base64url');
}

/** The position `cursor` holds, if `accept` recognises it; otherwise a BadInputError on `cursor`. */
export function decodeCursor<T>(cursor: string, accept: (value: unknown) => T | undefined): T {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    value = undefined;
  }
  const position = value === undefined ? undefined : accept(value);
  if (position === undefined) {
    throw new BadInputError('cursor', 'is not a cursor this API handed out: pass nextCursor back');
  }
  return position;
}

/** `value` as an object of the given fields, or undefined. */
export function fieldsOf(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}
