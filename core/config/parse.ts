import fs from 'node:fs';
import { ConfigError } from '../errors.js';
import { IDENTIFIER_RULE, isIdentifier } from '../identifiers.js';

export type Env = Readonly<Record<string, string | undefined>>;

function present(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

export function text(env: Env, name: string, fallback?: string): string {
  const value = present(env, name) ?? fallback;
  if (value === undefined) throw new ConfigError(name, 'is required');
  return value;
}

export function optionalText(env: Env, name: string): string | undefined {
  return present(env, name);
}

export function integer(
  env: Env,
  name: string,
  fallback: number,
  { min = 0, max = Number.MAX_SAFE_INTEGER } = {},
): number {
  const raw = present(env, name);
  if (raw === undefined) return fallback;
  if (!/^-?\d+$/.test(raw)) throw new ConfigError(name, `expected a whole number, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max)
    throw new ConfigError(name, `expected a whole number from ${min} to ${max}, got ${value}`);
  return value;
}

export function url(
  env: Env,
  name: string,
  protocols: readonly string[],
  fallback?: string,
): string {
  const value = text(env, name, fallback);
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw new ConfigError(name, `expected a URL (${protocols.join(' or ')}), got something else`);
  }
  if (!protocols.includes(parsed.protocol.replace(/:$/, ''))) {
    throw new ConfigError(
      name,
      `expected a ${protocols.join(' or ')} URL, got ${parsed.protocol}//…`,
    );
  }
  return value;
}

export function oneOf<T extends string>(
  env: Env,
  name: string,
  allowed: readonly T[],
  fallback: T,
): T {
  const value = present(env, name) ?? fallback;
  if (!(allowed as readonly string[]).includes(value)) {
    throw new ConfigError(name, `expected one of ${allowed.join(', ')}, got "${value}"`);
  }
  return value as T;
}

/**
 * API tokens: a JSON object {"<token>": "<tenant>"} given inline or in a file
 * (a mounted Secret). The file wins when both are set.
 */
export function apiTokens(env: Env): Map<string, string> {
  const file = present(env, 'FLOWPOOL_API_TOKENS_FILE');
  const variable = file ? 'FLOWPOOL_API_TOKENS_FILE' : 'FLOWPOOL_API_TOKENS';
  let raw: string | undefined;
  if (file) {
    try {
      raw = fs.readFileSync(file, 'utf8');
    } catch {
      throw new ConfigError(variable, `cannot read ${file}`);
    }
  } else {
    raw = present(env, 'FLOWPOOL_API_TOKENS');
  }
  if (raw === undefined) return new Map();
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ConfigError(
      variable,
      'expected a JSON object {"<token>": "<tenant>"}, got invalid JSON',
    );
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError(variable, 'expected a JSON object {"<token>": "<tenant>"}');
  }
  const tokens = new Map<string, string>();
  for (const [token, tenant] of Object.entries(parsed)) {
    if (typeof tenant !== 'string' || tenant === '' || token.length < 8) {
      throw new ConfigError(
        variable,
        'every token must be at least 8 characters and map to a non-empty tenant name',
      );
    }
    if (!isIdentifier(tenant)) {
      throw new ConfigError(
        variable,
        `tenant ${JSON.stringify(tenant).slice(0, 60)} ${IDENTIFIER_RULE}`,
      );
    }
    tokens.set(token, tenant);
  }
  return tokens;
}
