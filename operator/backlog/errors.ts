import type { BacklogErrorCode, BacklogReadError } from './types.js';

/** Thrown inside the reader and turned into a BacklogReadError at its edge. */
export class BacklogError extends Error {
  constructor(
    readonly code: BacklogErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'BacklogError';
  }
}

/** Redis's own error prefixes for a missing key and a missing group, stable across versions. */
export function isNoSuchKey(error: unknown): boolean {
  return error instanceof Error && /no such key/i.test(error.message);
}

export function isNoGroup(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOGROUP');
}

export function toReadError(error: unknown): BacklogReadError {
  if (error instanceof BacklogError) return { code: error.code, message: error.message };
  const message = error instanceof Error ? error.message : String(error);
  if (message.startsWith('WRONGTYPE')) return { code: 'WrongType', message };
  return { code: 'RedisUnavailable', message };
}

/** Rejects with a Timeout after `ms`; the operation itself is left to finish or fail on its own. */
export async function withTimeout<T>(ms: number, operation: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new BacklogError('Timeout', `${what}: no answer within ${ms} ms`)),
      ms,
    );
  });
  operation.catch(() => {}); // its failure after the timeout has nobody left to tell
  try {
    return await Promise.race([operation, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
