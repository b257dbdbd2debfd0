// The bearer token lives in sessionStorage: it is gone when the tab closes and
// is never sent anywhere but the Authorization header of this origin's API.
const KEY = 'flowpool.token';

/** Takes a token handed over in the URL fragment (#token=…) and removes it from the address bar. */
export function adoptTokenFromFragment(): void {
  const match = /(?:^#|&)token=([^&]+)/.exec(window.location.hash);
  if (!match) return;
  setToken(decodeURIComponent(match[1]!));
  // The fragment never reaches a server, but it would stay in history and on screen.
  window.history.replaceState(null, '', window.location.pathname + window.location.search);
}

export function getToken(): string | null {
  return window.sessionStorage.getItem(KEY);
}

export function setToken(token: string): void {
  window.sessionStorage.setItem(KEY, token);
}

export function clearToken(): void {
  window.sessionStorage.removeItem(KEY);
}
