import fs from 'node:fs';
import { ConfigError } from '../errors.js';
import { IDENTIFIER_RULE, isIdentifier } from '../identifiers.js';
import type { SizeLimits } from '../limits.js';
import { DEFAULT_SIZE_LIMITS } from '../limits.js';
import { type Env, integer, optionalText } from './parse.js';

/** What one tenant may ask of the API; 0 turns a bound off. */
export interface TenantLimit {
  /** Requests per minute, counted per tenant (all its tokens together) in each API process. */
  requestsPerMinute: number;
  /** /v1 requests in flight at once (each may hold a database connection); 0: no bound. */
  concurrency: number;
  /** Requests that may wait for one of those slots before further ones are refused. */
  queue: number;
}

export interface TenantLimits {
  defaults: TenantLimit;
  /** Longest a request waits in its tenant's line before it is refused. */
  maxWaitMs: number;
  /** tenant → its own bounds, from FLOWPOOL_TENANT_LIMITS */
  overrides: ReadonlyMap<string, TenantLimit>;
}

/** The API's own settings beyond CommonConfig: what one caller may cost it. */
export interface ApiSettings {
  /** Byte bounds on stored values (payloads, an execution's data at start). */
  sizes: SizeLimits;
  /** Payload bytes one history page carries at most (it always carries one event). */
  historyPageBytes: number;
  /** Request rate and concurrency per tenant. */
  tenants: TenantLimits;
  /**
   * When set, GET /metrics needs `Authorization: Bearer <this>`, and GET
   * /openapi.json needs it or a tenant's token. Unset: both are open.
   */
  operationsToken: string | undefined;
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
    tenants: tenantLimits(env),
    operationsToken: operationsToken(env),
  };
}

/** FLOWPOOL_OPERATIONS_TOKEN, or the content of FLOWPOOL_OPERATIONS_TOKEN_FILE (which wins). */
function operationsToken(env: Env): string | undefined {
  const file = optionalText(env, 'FLOWPOOL_OPERATIONS_TOKEN_FILE');
  const variable = file ? 'FLOWPOOL_OPERATIONS_TOKEN_FILE' : 'FLOWPOOL_OPERATIONS_TOKEN';
  let token: string | undefined;
  if (file) {
    try {
      token = fs.readFileSync(file, 'utf8').trim();
    } catch {
      throw new ConfigError(variable, `cannot read ${file}`);
    }
  } else {
    token = optionalText(env, 'FLOWPOOL_OPERATIONS_TOKEN');
  }
  if (token === undefined) return undefined;
  if (token.length < 16 || /\s/.test(token)) {
    throw new ConfigError(variable, 'expected a token of at least 16 characters without spaces');
  }
  return token;
}

/** The API's database pool holds 10 connections: by default one tenant may use half of them. */
const DEFAULT_TENANT_LIMIT: TenantLimit = { requestsPerMinute: 60_000, concurrency: 5, queue: 100 };

function tenantLimits(env: Env): TenantLimits {
  const defaults: TenantLimit = {
    requestsPerMinute: integer(
      env,
      'FLOWPOOL_RATE_LIMIT_PER_MINUTE',
      DEFAULT_TENANT_LIMIT.requestsPerMinute,
      { min: 0, max: 10_000_000 },
    ),
    concurrency: integer(env, 'FLOWPOOL_TENANT_CONCURRENCY', DEFAULT_TENANT_LIMIT.concurrency, {
      min: 0,
      max: 10_000,
    }),
    queue: integer(env, 'FLOWPOOL_TENANT_QUEUE', DEFAULT_TENANT_LIMIT.queue, {
      min: 0,
      max: 100_000,
    }),
  };
  return {
    defaults,
    // Under the API's 30 s request timeout, so a refused caller hears why.
    maxWaitMs: integer(env, 'FLOWPOOL_TENANT_QUEUE_WAIT_MS', 10_000, { min: 0, max: 25_000 }),
    overrides: tenantOverrides(env, defaults),
  };
}

const LIMITS_VARIABLE = 'FLOWPOOL_TENANT_LIMITS';
const LIMITS_SHAPE =
  'expected a JSON object {"<tenant>": {"requestsPerMinute": n, "concurrency": n}}';

/** FLOWPOOL_TENANT_LIMITS: per-tenant bounds; a field left out keeps the default. */
function tenantOverrides(env: Env, defaults: TenantLimit): Map<string, TenantLimit> {
  const raw = optionalText(env, LIMITS_VARIABLE);
  const overrides = new Map<string, TenantLimit>();
  if (raw === undefined) return overrides;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ConfigError(LIMITS_VARIABLE, `${LIMITS_SHAPE}, got invalid JSON`);
  }
  if (!isRecord(parsed)) throw new ConfigError(LIMITS_VARIABLE, LIMITS_SHAPE);
  for (const [tenant, given] of Object.entries(parsed)) {
    const name = JSON.stringify(tenant).slice(0, 60);
    if (!isIdentifier(tenant)) {
      throw new ConfigError(LIMITS_VARIABLE, `tenant ${name} ${IDENTIFIER_RULE}`);
    }
    if (!isRecord(given)) throw new ConfigError(LIMITS_VARIABLE, `${name}: ${LIMITS_SHAPE}`);
    const limit = { ...defaults };
    for (const [key, value] of Object.entries(given)) {
      if (key !== 'requestsPerMinute' && key !== 'concurrency' && key !== 'queue') {
        throw new ConfigError(
          LIMITS_VARIABLE,
          `${name}: unknown field ${JSON.stringify(key).slice(0, 40)} (requestsPerMinute, concurrency, queue)`,
        );
      }
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
        throw new ConfigError(LIMITS_VARIABLE, `${name}.${key}: expected a whole number >= 0`);
      }
      limit[key] = value;
    }
    overrides.set(tenant, limit);
  }
  return overrides;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** What an API built without a configuration (tests, local mode) holds to. */
export const DEFAULT_API_SETTINGS: Readonly<ApiSettings> = loadApiSettings({});
