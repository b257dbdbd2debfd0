import type { StreamCounters } from '../../scaling/rates.js';
import type { BacklogReading } from './types.js';

/** The counters the rate estimates follow; none when Redis could not be read. */
export function streamCounters(reading: BacklogReading): StreamCounters {
  return reading.readOk
    ? {
        entriesAdded: reading.entriesAdded,
        entriesRead: reading.entriesRead,
        lag: reading.lag,
        pending: reading.pending,
      }
    : { entriesAdded: undefined, entriesRead: undefined, lag: undefined, pending: undefined };
}
