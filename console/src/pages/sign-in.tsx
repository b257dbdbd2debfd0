import { useState } from 'preact/hooks';
import { ApiError, api } from '../api';
import { setToken } from '../session';

/** Asks for the tenant's bearer token and checks it against the API before keeping it. */
export function SignIn({ onSignedIn }: { onSignedIn(): void }) {
  const [token, setText] = useState('');
  const [problem, setProblem] = useState<string>();
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    const candidate = token.trim();
    if (!candidate) return setProblem('Enter a token.');
    setBusy(true);
    setProblem(undefined);
    try {
      await api('GET', '/v1/dead-letters', { query: { limit: 1 }, token: candidate });
      setToken(candidate);
      onSignedIn();
    } catch (error) {
      setProblem(
        error instanceof ApiError && error.status === 401
          ? 'That token was refused.'
          : 'The API could not check the token; try again.',
      );
    } finally {
      setBusy(false);
    }
  };
  return (
    <main id="main" class="sign-in">
      <h1>flowpool console</h1>
      <form onSubmit={submit} aria-describedby={problem ? 'sign-in-problem' : undefined}>
        <label for="token">API token</label>
        <input
          id="token"
          type="password"
          autocomplete="off"
          value={token}
          onInput={(e) => setText(e.currentTarget.value)}
        />
        <small class="muted">
          The token of your tenant (FLOWPOOL_API_TOKENS). It is kept in this tab only.
        </small>
        {problem && (
          <p id="sign-in-problem" class="error" role="alert">
            {problem}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {busy ? 'Checking…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
