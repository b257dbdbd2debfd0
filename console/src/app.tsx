import { useEffect, useRef, useState } from 'preact/hooks';
import { Link, Route, Router, Switch, useLocation } from 'wouter-preact';
import { UNAUTHORIZED_EVENT } from './api';
import { DeadLettersPage } from './pages/dead-letters';
import { ExecutionPage } from './pages/execution';
import { ExecutionsPage } from './pages/executions';
import { SignIn } from './pages/sign-in';
import { StreamPage } from './pages/stream';
import { WorkflowsPage } from './pages/workflows';
import { clearToken, getToken } from './session';

const NAV = [
  { href: '/', label: 'Executions' },
  { href: '/dead-letters', label: 'Dead letters' },
  { href: '/stream', label: 'Stream health' },
  { href: '/workflows', label: 'Workflows' },
];

function Nav({ onSignOut }: { onSignOut(): void }) {
  const [location] = useLocation();
  const current = (href: string) =>
    href === '/' ? location === '/' || location.startsWith('/executions') : location === href;
  return (
    <header class="top">
      <a class="skip" href="#main">
        Skip to content
      </a>
      <span class="brand">flowpool</span>
      <nav aria-label="Console pages">
        <ul>
          {NAV.map((item) => (
            <li key={item.href}>
              <Link href={item.href} aria-current={current(item.href) ? 'page' : undefined}>
                {item.label}
              </Link>
            </li>
          ))}
        </ul>
      </nav>
      <button type="button" class="quiet sign-out" onClick={onSignOut}>
        Sign out
      </button>
    </header>
  );
}

/** Moves focus to the new page's heading, so keyboard and screen-reader users land on it. */
function FocusOnNavigate() {
  const [location] = useLocation();
  const first = useRef(true);
  useEffect(() => {
    // On the first page shown, focus stays at the start of the document (the skip link comes first).
    if (first.current) {
      first.current = false;
      return;
    }
    document.querySelector<HTMLElement>('main h1')?.focus({ preventScroll: true });
  }, [location]);
  return null;
}

export function App() {
  const [signedIn, setSignedIn] = useState(() => getToken() !== null);
  useEffect(() => {
    const signOut = () => {
      clearToken();
      setSignedIn(false);
    };
    window.addEventListener(UNAUTHORIZED_EVENT, signOut);
    return () => window.removeEventListener(UNAUTHORIZED_EVENT, signOut);
  }, []);
  if (!signedIn) return <SignIn onSignedIn={() => setSignedIn(true)} />;
  return (
    <Router base="/console">
      <Nav
        onSignOut={() => {
          clearToken();
          setSignedIn(false);
        }}
      />
      <FocusOnNavigate />
      <main id="main">
        <Switch>
          <Route path="/" component={ExecutionsPage} />
          <Route path="/executions/:id" component={ExecutionPage} />
          <Route path="/dead-letters" component={DeadLettersPage} />
          <Route path="/stream" component={StreamPage} />
          <Route path="/workflows" component={WorkflowsPage} />
          <Route>
            <h1 tabIndex={-1}>No such page</h1>
            <Link href="/">Back to executions</Link>
          </Route>
        </Switch>
      </main>
    </Router>
  );
}
