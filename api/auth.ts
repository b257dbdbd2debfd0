import { createHash, timingSafeEqual } from 'node:crypto';

const BEARER = /^Bearer[ \t]+([^\s]+)[ \t]*$/i;

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/**
 * Bearer token → tenant. Tokens are compared as SHA-256 digests with
 * timingSafeEqual against every configured token (no early exit), so the
 * time taken says nothing about how much of a token was right.
 */
export class TokenAuthenticator {
  private readonly entries: Array<{ digest: Buffer; tenant: string }>;

  constructor(tokens: ReadonlyMap<string, string>) {
    this.entries = [...tokens].map(([token, tenant]) => ({ digest: digest(token), tenant }));
  }

  /** The tenant an Authorization header stands for, or undefined when it is missing or wrong. */
  tenantFor(authorization: string | string[] | undefined): string | undefined {
    if (typeof authorization !== 'string') return undefined;
    const match = BEARER.exec(authorization);
    if (!match) return undefined;
    const candidate = digest(match[1]!);
    let tenant: string | undefined;
    for (const entry of this.entries) {
      if (timingSafeEqual(entry.digest, candidate) && tenant === undefined) tenant = entry.tenant;
    }
    return tenant;
  }
}
