import { BadInputError } from './errors.js';

/** Deeper JSON than this is refused: nothing a workflow needs, and serialising it could overflow the stack. */
const MAX_JSON_DEPTH = 64;

/** A NUL, or a UTF-16 surrogate without its partner: PostgreSQL's text and jsonb refuse both. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding NUL is the point
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function join(path: string, key: string | number): string {
  return path === '' ? String(key) : `${path}.${key}`;
}

export interface Unstorable {
  /** Dotted path from the top (`items.3.text`); empty for the value itself. */
  path: string;
  problem: string;
}

/**
 * Finds the first place in `value` that PostgreSQL jsonb (or text) cannot
 * store as it is: a NUL character, a lone surrogate, nesting deeper than
 * MAX_JSON_DEPTH, or something that is not a JSON value. Iterative, so a
 * hostile nesting depth cannot overflow the stack here.
 */
export function findUnstorable(value: unknown): Unstorable | undefined {
  const stack: Array<{ path: string; value: unknown; depth: number }> = [
    { path: '', value, depth: 0 },
  ];
  while (stack.length > 0) {
    const item = stack.pop()!;
    const current = item.value;
    if (typeof current === 'string') {
      if (UNSTORABLE.test(current)) {
        return {
          path: item.path,
          problem: 'must not contain NUL characters or unpaired UTF-16 surrogates',
        };
      }
      continue;
    }
    if (typeof current === 'number') {
      if (!Number.isFinite(current)) return { path: item.path, problem: 'must be a finite number' };
      continue;
    }
    if (current === null || typeof current === 'boolean' || current === undefined) continue;
    if (typeof current !== 'object') return { path: item.path, problem: 'must be a JSON value' };
    if (item.depth >= MAX_JSON_DEPTH) {
      return { path: item.path, problem: `must not nest deeper than ${MAX_JSON_DEPTH} levels` };
    }
    if (Array.isArray(current)) {
      current.forEach((element, index) => {
        stack.push({ path: join(item.path, index), value: element, depth: item.depth + 1 });
      });
      continue;
    }
    for (const [key, element] of Object.entries(current)) {
      if (UNSTORABLE.test(key)) {
        return {
          path: item.path,
          problem: 'keys must not contain NUL characters or unpaired UTF-16 surrogates',
        };
      }
      stack.push({ path: join(item.path, key), value: element, depth: item.depth + 1 });
    }
  }
  return undefined;
}

/** Throws BadInputError naming `field` (and the path inside it) when `value` cannot be stored. */
export function checkStorable(field: string, value: unknown): void {
  const found = findUnstorable(value);
  if (found) {
    throw new BadInputError(found.path === '' ? field : `${field}.${found.path}`, found.problem);
  }
}
