import { BacklogError } from './errors.js';
import type { ConsumerInfo } from './types.js';

/**
 * Parsers for XINFO replies (RESP2: flat [field, value, ...] arrays). Fields
 * are looked up by name, so fields added by newer Redis versions are ignored
 * and fields older versions lack come back undefined.
 */

type Fields = Map<string, unknown>;

function unexpected(what: string, reply: unknown): BacklogError {
  return new BacklogError('UnexpectedReply', `${what}: unexpected reply ${JSON.stringify(reply)}`);
}

function fieldsOf(reply: unknown, what: string): Fields {
  if (!Array.isArray(reply) || reply.length % 2 !== 0) throw unexpected(what, reply);
  const fields: Fields = new Map();
  for (let i = 0; i < reply.length; i += 2) fields.set(String(reply[i]), reply[i + 1]);
  return fields;
}

/** An integer field; undefined when absent or nil (e.g. lag on Redis < 7, or when unknown). */
function optionalInt(fields: Fields, name: string, what: string): number | undefined {
  const value = fields.get(name);
  if (value === undefined || value === null) return undefined;
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isSafeInteger(n)) throw unexpected(`${what} ${name}`, value);
  return n;
}

function requiredInt(fields: Fields, name: string, what: string): number {
  const n = optionalInt(fields, name, what);
  if (n === undefined) throw unexpected(`${what} ${name}`, fields.get(name));
  return n;
}

function requiredString(fields: Fields, name: string, what: string): string {
  const value = fields.get(name);
  if (typeof value !== 'string') throw unexpected(`${what} ${name}`, value);
  return value;
}

function listOf(reply: unknown, what: string): unknown[] {
  if (!Array.isArray(reply)) throw unexpected(what, reply);
  return reply;
}

/** How one reply field is read: a required string, a required integer, or an optional integer. */
type FieldKind = 'string' | 'int' | 'int?';
/** A record's fields: its property name → [the reply's field name, how it is read]. */
type FieldTable = Record<string, readonly [field: string, kind: FieldKind]>;
type Read<K extends FieldKind> = K extends 'string'
  ? string
  : K extends 'int'
    ? number
    : number | undefined;
type Parsed<T extends FieldTable> = { -readonly [P in keyof T]: Read<T[P][1]> };

const READERS: Record<FieldKind, (fields: Fields, name: string, what: string) => unknown> = {
  string: requiredString,
  int: requiredInt,
  'int?': optionalInt,
};

/** One XINFO record read by its table; `what` names the record in errors. */
function parseRecord<T extends FieldTable>(
  reply: unknown,
  command: string,
  what: string,
  table: T,
): Parsed<T> {
  const fields = fieldsOf(reply, command);
  const record: Record<string, unknown> = {};
  for (const [property, [field, kind]] of Object.entries(table)) {
    record[property] = READERS[kind](fields, field, what);
  }
  return record as Parsed<T>;
}

export interface GroupInfo {
  name: string;
  consumers: number;
  pending: number;
  lastDeliveredId: string;
  /** Redis >= 7; nil when Redis lost track (e.g. a group created at an arbitrary id). */
  entriesRead: number | undefined;
  /** Redis >= 7; nil when entries after the group's position were deleted. */
  lag: number | undefined;
}

const GROUP_FIELDS = {
  name: ['name', 'string'],
  consumers: ['consumers', 'int'],
  pending: ['pending', 'int'],
  lastDeliveredId: ['last-delivered-id', 'string'],
  entriesRead: ['entries-read', 'int?'],
  lag: ['lag', 'int?'],
} as const;

export function parseGroups(reply: unknown): GroupInfo[] {
  return listOf(reply, 'XINFO GROUPS').map((item) =>
    parseRecord(item, 'XINFO GROUPS', 'group', GROUP_FIELDS),
  );
}

export interface StreamInfo {
  length: number;
  lastGeneratedId: string;
  /** Redis >= 7: every entry ever added, deleted or not. */
  entriesAdded: number | undefined;
}

const STREAM_FIELDS = {
  length: ['length', 'int'],
  lastGeneratedId: ['last-generated-id', 'string'],
  entriesAdded: ['entries-added', 'int?'],
} as const;

export function parseStream(reply: unknown): StreamInfo {
  return parseRecord(reply, 'XINFO STREAM', 'stream', STREAM_FIELDS);
}

const CONSUMER_FIELDS = {
  name: ['name', 'string'],
  pending: ['pending', 'int'],
  idleMs: ['idle', 'int'],
  inactiveMs: ['inactive', 'int?'],
} as const;

export function parseConsumers(reply: unknown): ConsumerInfo[] {
  return listOf(reply, 'XINFO CONSUMERS').map((item) => {
    const consumer = parseRecord(item, 'XINFO CONSUMERS', 'consumer', CONSUMER_FIELDS);
    return { ...consumer, inactiveMs: nonNegative(consumer.inactiveMs) };
  });
}

/** Redis reports -1 for "never"; that is no duration. */
function nonNegative(n: number | undefined): number | undefined {
  return n === undefined || n < 0 ? undefined : n;
}
