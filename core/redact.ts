/**
 * Credentials out of text that leaves the process: log lines, stored
 * errors, stream fields, API responses, status conditions, Events.
 *
 * Errors from drivers quote connection strings verbatim ("connect to
 * postgres://svc:hunter2@db …"), so every error text that may reach a
 * person passes through `redactText` first. The patterns are deliberately
 * broad: a false positive hides a few harmless characters, a false
 * negative publishes a password.
 */

const MASK = '***';

/** The URL with any password (userinfo or a secret-like query parameter) replaced. */
export function redactUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return '<unparseable URL>';
  }
  if (parsed.password) parsed.password = MASK;
  for (const name of [...parsed.searchParams.keys()]) {
    if (SECRET_PARAM.test(name)) parsed.searchParams.set(name, MASK);
  }
  // URLSearchParams encodes the mask; keep it readable.
  return parsed.toString().replaceAll('%2A%2A%2A', MASK);
}

/** Query or connection-string keys whose values are secrets. */
const SECRET_PARAM =
  /^(password|passwd|pwd|pass|secret|token|access[_-]?token|api[_-]?key|auth|sslpassword|sslkey)$/i;

/** scheme://user:password@ inside free text. */
const USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/@:]*):([^\s@/]*)@/gi;
/** password=…, ?token=…, &api_key=… inside free text (URL query or libpq key/value). */
const KEY_VALUE =
  /\b(password|passwd|pwd|pass|secret|token|access[_-]?token|api[_-]?key|sslpassword)(\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s&;,"']+)/gi;
/** A bearer token quoted in an error. */
const BEARER = /\b(bearer\s+)[A-Za-z0-9._~+/=-]+/gi;

/** `text` with credentials in URLs, key=value pairs and bearer tokens replaced. */
export function redactText(text: string): string {
  return text
    .replace(USERINFO, (_m, scheme: string, user: string) => `${scheme}${user}:${MASK}@`)
    .replace(KEY_VALUE, (_m, key: string, sep: string) => `${key}${sep}${MASK}`)
    .replace(BEARER, (_m, prefix: string) => `${prefix}${MASK}`);
}
