/**
 * Points in time a caller may send: ISO 8601 query values, and the
 * timestamps inside list cursors. Both reach PostgreSQL, which refuses what
 * a JavaScript Date would quietly roll over (February 30th, hour 24) with an
 * error that is not the caller's to see: so every field is range-checked
 * here, and a bad one is the caller's 400.
 */

/** ISO 8601 as the API takes it: a date, or a date and time with a zone (Z or ±hh:mm). */
const ISO =
  /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d{1,6})?)?(Z|[+-](\d{2}):(\d{2})))?$/;

/** A timestamptz as PostgreSQL prints it: `2026-01-02 03:04:05.123456+00` (offset maybe ±hh:mm). */
const PG_TEXT =
  /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(\.\d{1,6})?([+-](\d{2})(?::(\d{2}))?)$/;

function daysIn(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** Year 1-9999, a real day of its month, hours 0-23, minutes and seconds 0-59, offset within ±15:59. */
function realFields(parts: Array<string | undefined>): boolean {
  const [year, month, day, hour = 0, minute = 0, second = 0, offsetH = 0, offsetM = 0] = parts.map(
    (part) => (part === undefined ? undefined : Number(part)),
  ) as number[];
  return (
    year! >= 1 &&
    month! >= 1 &&
    month! <= 12 &&
    day! >= 1 &&
    day! <= daysIn(year!, month!) &&
    hour <= 23 &&
    minute <= 59 &&
    second <= 59 &&
    offsetH <= 15 &&
    offsetM <= 59
  );
}

/**
 * The ISO 8601 value as text PostgreSQL reads as the same instant, or
 * undefined when it names none. Text rather than a Date: a Date keeps
 * milliseconds and creation times have microseconds. A date alone is
 * midnight UTC (not the database session's time zone).
 */
export function isoInstantText(value: string): string | undefined {
  const m = ISO.exec(value);
  if (!m) return undefined;
  if (!realFields([m[1], m[2], m[3], m[4], m[5], m[6], m[9], m[10]])) return undefined;
  return m[4] === undefined ? `${value}T00:00:00Z` : value;
}

/** Whether `value` is a timestamptz PostgreSQL printed (and will read back exactly). */
export function isPgTimestamp(value: string): boolean {
  const m = PG_TEXT.exec(value);
  return m !== null && realFields([m[1], m[2], m[3], m[4], m[5], m[6], m[9], m[10]]);
}
