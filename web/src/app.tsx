// The shell: header (build, who is signed in), navigation, and the current page, loaded as its
// own chunk. A session that expires mid-use sends the user to sign in and back to the same page.

import type { ComponentType } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, loginUrl, setSessionExpiredHandler } from './lib/api';
import { ROUTES, match, navigate } from './router';
import { SessionContext, displayName, type Me } from './ui/session';

const here = () => location.pathname + location.search;

setSessionExpiredHandler(() => location.assign(loginUrl(here())));

/** A same-origin link that changes page without a reload. */
export function Link({ href, children, current }: { href: string; children: string; current?: boolean }) {
  return (
    <a
      href={href}
      aria-current={current ? 'page' : undefined}
      onClick={(e) => {
        if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
        e.preventDefault();
        navigate(href);
      }}
    >
      {children}
    </a>
  );
}

function Account({ me }: { me: Me | null | undefined }) {
  if (me === undefined) return <p class="account">…</p>;
  if (me === null) {
    return (
      <p class="account">
        <a id="sign-in" href={loginUrl(here())}>Sign in</a>
      </p>
    );
  }
  // Sign-out is a same-origin POST (the edge refuses GET and other sites' POSTs: logout CSRF).
  return (
    <form class="account" method="post" action="/auth/logout">
      <span id="account-name">Signed in as {displayName(me)}</span> <button type="submit" id="sign-out">Sign out</button>
    </form>
  );
}

export function App() {
  const [path, setPath] = useState(location.pathname);
  const [me, setMe] = useState<Me | null | undefined>(undefined);
  const [Page, setPage] = useState<ComponentType | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const firstRender = useRef(true);
  const route = match(path);

  useEffect(() => {
    const onPop = () => setPath(location.pathname);
    addEventListener('popstate', onPop);
    api<Me>('/auth/me', { sessionOptional: true })
      .then(setMe)
      // 401: signed out. Any other failure also shows "Sign in": signing in is how to find out.
      .catch(() => setMe(null));
    return () => removeEventListener('popstate', onPop);
  }, []);

  useEffect(() => {
    let live = true;
    setPage(null);
    setLoadError(null);
    document.title = route ? `${route.title} · Verge` : 'Not found · Verge';
    route
      ?.load()
      .then((m) => live && setPage(() => m.default))
      .catch((e: Error) => live && setLoadError(e.message));
    return () => {
      live = false;
    };
  }, [route]);

  // After a page change, focus its heading so screen readers announce the new page.
  useEffect(() => {
    if (!Page) return;
    if (firstRender.current) {
      firstRender.current = false;
      return;
    }
    document.querySelector<HTMLElement>('main h1')?.focus();
  }, [Page]);

  return (
    <SessionContext.Provider value={me}>
      <header class="top">
        <p class="brand">
          <a href="/">Verge</a>
        </p>
        <nav aria-label="Pages">
          <ul>
            {ROUTES.map((r) => (
              <li key={r.path}>
                <Link href={r.path} current={r === route}>
                  {r.title}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <Account me={me} />
      </header>
      <main id="main">
        {!route && (
          <>
            <h1 tabIndex={-1}>Not found</h1>
            <p>There is no page at {path}.</p>
          </>
        )}
        {route && loadError && (
          <p role="alert">
            This page could not be loaded ({loadError}). <a href={path}>Reload</a>
          </p>
        )}
        {route && !Page && !loadError && <p role="status">Loading…</p>}
        {route && Page && <Page />}
      </main>
    </SessionContext.Provider>
  );
}
