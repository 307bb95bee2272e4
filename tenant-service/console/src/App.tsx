import { Component, useCallback, useEffect, useMemo, useRef, useState, type FormEvent, type ReactNode } from 'react';
import { createApi, describeError, type Api } from './api';
import { AuditPage } from './AuditPage';
import { CreateTenant } from './CreateTenant';
import { TenantPage } from './TenantPage';
import { TenantsList } from './TenantsList';
import { Link, SessionContext, type Session } from './ui';

/** The console's path after /console/ (e.g. `tenants/acme`), as the address bar shows it. */
const currentRoute = () => location.pathname.replace(/^\/console\/?/, '').replace(/\/+$/, '');

/**
 * The console: a sign-in form until the admin key is known, then the pages. The key is held in
 * React state only (memory): a reload or a closed tab signs out.
 */
export function App() {
  const [api, setApi] = useState<Api | null>(null);
  const [route, setRoute] = useState(currentRoute);
  const [status, setStatus] = useState('');
  const main = useRef<HTMLElement>(null);

  useEffect(() => {
    const onPop = () => setRoute(currentRoute());
    addEventListener('popstate', onPop);
    return () => removeEventListener('popstate', onPop);
  }, []);

  // After a move to another page (or signing in), its heading gets the focus, once it is on
  // screen: keyboard and screen reader users land on it, not on the page's top.
  const focusHeading = useRef(false);
  useEffect(() => {
    if (!focusHeading.current) return;
    focusHeading.current = false;
    main.current?.querySelector<HTMLElement>('h1')?.focus();
  }, [route, api]);

  const navigate = useCallback((to: string) => {
    history.pushState(null, '', `/console/${to}`);
    focusHeading.current = true;
    setRoute(to);
    setStatus('');
  }, []);

  const session = useMemo<Session | null>(() => (api ? { api, navigate, announce: setStatus } : null), [api, navigate]);

  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header>
        <span className="brand">Bridge admin console</span>
        {session && (
          <SessionContext.Provider value={session}>
            <nav aria-label="Main">
              <Link to="" current={route === '' || route === 'tenants'}>
                Tenants
              </Link>
              <Link to="new" current={route === 'new'}>
                Create tenant
              </Link>
              <Link to="audit" current={route === 'audit'}>
                Audit trail
              </Link>
            </nav>
            <button
              type="button"
              className="secondary"
              onClick={() => {
                // The button goes with the session: the focus to the sign-in heading, not to <body>.
                focusHeading.current = true;
                setApi(null);
                setStatus('Signed out: the admin key is forgotten');
              }}
            >
              Sign out
            </button>
          </SessionContext.Provider>
        )}
      </header>
      <div className="status" role="status" aria-live="polite" data-testid="status">
        {status}
      </div>
      <main id="main" ref={main}>
        {session ? (
          <SessionContext.Provider value={session}>
            <PageBoundary key={route}>
              <Page route={route} />
            </PageBoundary>
          </SessionContext.Provider>
        ) : (
          <SignIn
            onSignedIn={(a) => {
              focusHeading.current = true;
              setApi(() => a);
              setStatus('Signed in');
            }}
          />
        )}
      </main>
    </>
  );
}

function Page({ route }: { route: string }) {
  if (route === '' || route === 'tenants') return <TenantsList />;
  if (route === 'new') return <CreateTenant />;
  if (route === 'audit') return <AuditPage />;
  const m = /^tenants\/([^/]+)$/.exec(route);
  const tenantId = m ? decoded(m[1]) : null;
  if (tenantId !== null) return <TenantPage key={tenantId} tenantId={tenantId} />;
  return (
    <section>
      <h1 tabIndex={-1}>Not found</h1>
      <p>
        No console page at /console/{route}. <Link to="">Back to the tenants</Link>
      </p>
    </section>
  );
}

/**
 * A page that throws while drawing (an answer of a shape it does not expect, such as another
 * version's during a rolling deploy) shows why, instead of React unmounting the whole console;
 * moving to another page (a new `key`) starts afresh.
 */
class PageBoundary extends Component<{ children: ReactNode }, { error: Error | null }> {
  state = { error: null as Error | null };
  static getDerivedStateFromError(error: Error) {
    return { error };
  }
  render() {
    if (!this.state.error) return this.props.children;
    return (
      <section>
        <h1 tabIndex={-1}>This page could not be shown</h1>
        <p className="error" role="alert">
          This page could not be shown: {this.state.error.message}. The admin API may have answered in a shape this console does not know (a
          newer or older version); reloading the page loads the console the server has now.
        </p>
      </section>
    );
  }
}

/** A path segment decoded; null for broken percent-encoding (`%E0%A4%A`), which is no page. */
function decoded(segment: string): string | null {
  try {
    return decodeURIComponent(segment);
  } catch {
    return null;
  }
}

/** Checks the key with one admin API call before keeping it; a refused key shows the API's error. */
function SignIn({ onSignedIn }: { onSignedIn(api: Api): void }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (busy) return;
    setBusy(true);
    setError(null);
    const api = createApi(key);
    try {
      await api.get('/tenants?limit=1');
      setKey('');
      onSignedIn(api);
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="signin">
      <h1 tabIndex={-1}>Sign in</h1>
      <p>
        The platform admin key (ADMIN_API_KEY). It stays in this page's memory only: reloading or closing the tab signs you out.
      </p>
      <form onSubmit={submit}>
        <label htmlFor="admin-key">Admin key</label>
        <input id="admin-key" type="password" autoComplete="off" required value={key} onChange={(e) => setKey(e.target.value)} />
        <button type="submit" aria-disabled={busy}>
          Sign in
        </button>
      </form>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}
