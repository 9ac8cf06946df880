// The app's pages by path. The edge answers every unknown path with index.html (SPA fallback), so
// deep links and reloads work; pages load as separate chunks, so a route fetches only its own code.

import type { ComponentType } from 'preact';

export interface RouteDef {
  path: string;
  title: string;
  load: () => Promise<{ default: ComponentType }>;
}

export const ROUTES: RouteDef[] = [
  { path: '/', title: 'Overview', load: () => import('./pages/Overview') },
  { path: '/numbers', title: 'Numbers', load: () => import('./pages/Numbers') },
  { path: '/orders', title: 'Orders', load: () => import('./pages/Orders') },
  { path: '/connections', title: 'Connections', load: () => import('./pages/Connections') },
  { path: '/keys', title: 'API keys', load: () => import('./pages/Keys') },
];

/** The route for a path (a trailing slash is ignored); `undefined` for an unknown one. */
export function match(pathname: string): RouteDef | undefined {
  const p = pathname.length > 1 ? pathname.replace(/\/+$/, '') : pathname;
  return ROUTES.find((r) => r.path === p);
}

/** Goes to `path` within the app (no page load). */
export function navigate(path: string): void {
  if (path === location.pathname + location.search) return;
  history.pushState(null, '', path);
  dispatchEvent(new PopStateEvent('popstate'));
}
