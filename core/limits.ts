import { BadInputError } from './errors.js';

/**
 * Byte bounds on what a caller may store. A payload or an execution's data
 * is read back whole into memory by the API (history, state) and by every
 * worker that replays it, so one large value costs every reader, not only
 * its writer. Sizes are counted as UTF-8 JSON, as the value is sent back.
 */
export interface SizeLimits {
  /** Largest event payload, with or without a payload schema. */
  eventPayloadBytes: number;
  /** Largest execution data at start (its initial data built from the input). */
  executionDataBytes: number;
}

export const DEFAULT_SIZE_LIMITS: Readonly<SizeLimits> = {
  eventPayloadBytes: 65_536,
  executionDataBytes: 262_144,
};

/** The stable code of each bound, as the HTTP API answers it (413). */
export type TooLargeCode = 'PAYLOAD_TOO_LARGE' | 'DATA_TOO_LARGE';

/**
 * A value over its byte bound. A BadInputError (code BAD_INPUT, `field`
 * names the value) for library callers; the HTTP API answers it with 413 and
 * `limitCode`.
 */
export class TooLargeError extends BadInputError {
  constructor(
    field: string,
    readonly limitCode: TooLargeCode,
    readonly bytes: number,
    readonly limit: number,
  ) {
    super(field, `is ${bytes} bytes as JSON; at most ${limit} bytes are accepted`);
  }
}

/** Size of `value` as UTF-8 JSON (0 for undefined). */
function jsonBytes(value: unknown): number {
  const text = JSON.stringify(value);
  return text === undefined ? 0 : Buffer.byteLength(text, 'utf8');
}

/** Throws TooLargeError when `value` is over `limit` bytes as JSON. */
export function checkSize(field: string, value: unknown, limit: number, code: TooLargeCode): void {
  const bytes = jsonBytes(value);
  if (bytes > limit) throw new TooLargeError(field, code, bytes, limit);
}
