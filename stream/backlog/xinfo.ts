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

export function parseGroups(reply: unknown): GroupInfo[] {
  return listOf(reply, 'XINFO GROUPS').map((item) => {
    const f = fieldsOf(item, 'XINFO GROUPS');
    return {
      name: requiredString(f, 'name', 'group'),
      consumers: requiredInt(f, 'consumers', 'group'),
      pending: requiredInt(f, 'pending', 'group'),
      lastDeliveredId: requiredString(f, 'last-delivered-id', 'group'),
      entriesRead: optionalInt(f, 'entries-read', 'group'),
      lag: optionalInt(f, 'lag', 'group'),
    };
  });
}

export interface StreamInfo {
  length: number;
  lastGeneratedId: string;
  /** Redis >= 7: every entry ever added, deleted or not. */
  entriesAdded: number | undefined;
}

export function parseStream(reply: unknown): StreamInfo {
  const f = fieldsOf(reply, 'XINFO STREAM');
  return {
    length: requiredInt(f, 'length', 'stream'),
    lastGeneratedId: requiredString(f, 'last-generated-id', 'stream'),
    entriesAdded: optionalInt(f, 'entries-added', 'stream'),
  };
}

export function parseConsumers(reply: unknown): ConsumerInfo[] {
  return listOf(reply, 'XINFO CONSUMERS').map((item) => {
    const f = fieldsOf(item, 'XINFO CONSUMERS');
    return {
      name: requiredString(f, 'name', 'consumer'),
      pending: requiredInt(f, 'pending', 'consumer'),
      idleMs: requiredInt(f, 'idle', 'consumer'),
      inactiveMs: nonNegative(optionalInt(f, 'inactive', 'consumer')),
    };
  });
}

/** Redis reports -1 for "never"; that is no duration. */
function nonNegative(n: number | undefined): number | undefined {
  return n === undefined || n < 0 ? undefined : n;
}
