import type { SizeLimits } from '../client/limits.js';
import { DEFAULT_SIZE_LIMITS } from '../client/limits.js';
import { type Env, integer } from './parse.js';

/** The API's own settings beyond CommonConfig: what one caller may cost it. */
export interface ApiSettings {
  /** Byte bounds on stored values (payloads, an execution's data at start). */
  sizes: SizeLimits;
  /** Payload bytes one history page carries at most (it always carries one event). */
  historyPageBytes: number;
}

/** The largest request body the API reads; a stored value must fit in one. */
const BODY_BYTES = 1_048_576;

export function loadApiSettings(env: Env): ApiSettings {
  return {
    sizes: {
      eventPayloadBytes: integer(
        env,
        'FLOWPOOL_MAX_EVENT_PAYLOAD_BYTES',
        DEFAULT_SIZE_LIMITS.eventPayloadBytes,
        { min: 2, max: BODY_BYTES },
      ),
      executionDataBytes: integer(
        env,
        'FLOWPOOL_MAX_EXECUTION_DATA_BYTES',
        DEFAULT_SIZE_LIMITS.executionDataBytes,
        { min: 2, max: 16 * BODY_BYTES },
      ),
    },
    historyPageBytes: integer(env, 'FLOWPOOL_HISTORY_PAGE_BYTES', BODY_BYTES, {
      min: 1_024,
      max: 64 * BODY_BYTES,
    }),
  };
}

/** What an API built without a configuration (tests, local mode) holds to. */
export const DEFAULT_API_SETTINGS: Readonly<ApiSettings> = loadApiSettings({});
