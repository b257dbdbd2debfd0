import { redactText } from '../core/redact.js';

/** How the API shows why an event failed or was rejected: a stable code and a cleaned message. */
export interface ErrorView {
  errorCode: string;
  error: string;
}

/** Longest error message the API returns. */
const MAX_MESSAGE_CHARS = 1_000;

/**
 * Workers store an error as `<CODE>: <message>` (codes are upper-case
 * letters, digits and _). Text stored before that form, or in any other
 * shape, has no code of its own.
 */
const CODED = /^([A-Z][A-Z0-9_]{0,63}): ([\s\S]*)$/;

/** Code for stored error text that carries none. */
const UNCODED_ERROR = 'PROCESSING_FAILED';
/** Code for an event the workflow rejected (its reason is the workflow's own text). */
export const REJECTED = 'REJECTED';

/**
 * Text fit for a caller: credentials redacted and length bounded. Workers
 * clean what they store; this runs again at the response boundary because
 * rows written before that (or by older workers) hold raw driver errors.
 */
export function cleanMessage(text: string): string {
  const cleaned = redactText(text);
  return cleaned.length > MAX_MESSAGE_CHARS ? `${cleaned.slice(0, MAX_MESSAGE_CHARS)}…` : cleaned;
}

/** The view of a stored processing error, or undefined when none is stored. */
export function storedErrorView(stored: string | null | undefined): ErrorView | undefined {
  if (stored === null || stored === undefined || stored === '') return undefined;
  const coded = CODED.exec(stored);
  if (coded) return { errorCode: coded[1]!, error: cleanMessage(coded[2]!) };
  return { errorCode: UNCODED_ERROR, error: cleanMessage(stored) };
}

/** Why an event ended as it did: its rejection reason first, else its processing error. */
export function eventErrorView(event: {
  reason: string | null;
  error: string | null;
}): ErrorView | undefined {
  if (event.reason) return { errorCode: REJECTED, error: cleanMessage(event.reason) };
  return storedErrorView(event.error);
}
