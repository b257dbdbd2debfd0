import type { LagEstimate } from './types.js';
import type { GroupInfo, StreamInfo } from './xinfo.js';

/**
 * Redis's lag, when it can be taken as is. Redis 7.0 keeps counting entries
 * removed by XTRIM / MAXLEN in the lag, so a lag above the stream's length is
 * impossible and gets estimated instead, like a nil one.
 */
export function reportedLag(group: GroupInfo, stream: StreamInfo): number | undefined {
  if (group.lag === undefined || group.lag > stream.length) return undefined;
  return group.lag;
}

/**
 * The most entries that can still wait for the group: no more than the
 * stream holds, and no more than were added since the group's read counter
 * (which overcounts deleted entries, so it is only a bound).
 */
export function lagUpperBound(group: GroupInfo, stream: StreamInfo): number {
  const { entriesAdded } = stream;
  const { entriesRead } = group;
  if (entriesAdded === undefined || entriesRead === undefined || entriesAdded < entriesRead) {
    return stream.length;
  }
  return Math.min(stream.length, entriesAdded - entriesRead);
}

/**
 * From the entries counted after the group's last-delivered-id (at most
 * `limit`): exact below the limit; at the limit, the upper bound, since an
 * overestimate costs a few replicas and an underestimate leaves work waiting.
 */
export function lagFromCount(
  counted: number,
  limit: number,
  upperBound: number,
): { lag: number; how: LagEstimate } {
  if (counted < limit) return { lag: counted, how: 'counted' };
  return { lag: Math.max(counted, upperBound), how: 'upper-bound' };
}
