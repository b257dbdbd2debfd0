import { ActionFailedError, ActionTimeoutError, describeError, errorCode } from './errors.js';
import { redactText } from './redact.js';

/** Longest error text kept in a row, a stream field or a log line. */
const MAX_MESSAGE_CHARS = 2_000;

/** An error as the worker stores it: a stable code and a message cleaned of credentials. */
interface ErrorRecord {
  /** A FlowpoolError's code; INTERNAL for anything else (a driver's error, workflow code). */
  code: string;
  message: string;
}

function errorRecord(error: unknown): ErrorRecord {
  const named = specific(error);
  return { code: errorCode(named) ?? 'INTERNAL', message: cleanText(messageOf(named)) };
}

/**
 * A failed action is named without its event id: every place the error is
 * stored already names the event, and listings cut long messages short.
 */
function messageOf(error: unknown): string {
  if (!(error instanceof ActionFailedError)) return describeError(error);
  // Event ids are UUIDs, so the action's name is all after the first ':'.
  const actionName = error.actionKey.slice(error.actionKey.indexOf(':') + 1);
  return `action ${actionName} failed: ${describeError(error.cause)}`;
}

/** A timed-out action is named as such wherever its failure travels. */
function specific(error: unknown): unknown {
  if (error instanceof ActionFailedError && error.cause instanceof ActionTimeoutError)
    return error.cause;
  return error;
}

/**
 * Text safe to store or log: credentials redacted, bounded in length.
 * Hazard: drivers and workflow code quote connection strings verbatim, so
 * every error text that leaves the process passes through here.
 */
export function cleanText(text: string): string {
  const cleaned = redactText(text);
  return cleaned.length > MAX_MESSAGE_CHARS ? `${cleaned.slice(0, MAX_MESSAGE_CHARS)}…` : cleaned;
}

/**
 * The single text column form: `<CODE>: <message>`. Readers take the code
 * as the text before the first ": " (codes are upper-case letters and _).
 */
export function storedError(error: unknown): string {
  const { code, message } = errorRecord(error);
  return `${code}: ${message}`;
}

/** An error's text for a log line: cleaned, without its code. */
export function logText(error: unknown): string {
  return cleanText(describeError(error));
}
