// Every call the app makes goes through `api`: same-origin requests to the edge's /api and /auth
// routes, answers parsed as JSON, failures as problems. The session is an HttpOnly cookie the
// browser sends by itself, and the only credential the app uses: no token or key is ever in the
// page's reach (the admin and partner pages are open to the session's roles).

import { networkProblem, problemFrom, type Problem } from './problem';

export interface CallOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
  body?: unknown;
  query?: Record<string, string | number | null | undefined>;
  /** A 401 here means "signed out", not "the session expired" (for /auth/me). */
  sessionOptional?: boolean;
  signal?: AbortSignal;
}

/** A call that did not succeed, with the problem to show. */
export class ApiFailure extends Error {
  constructor(readonly problem: Problem) {
    super(problem.detail || problem.title);
  }
}

/** `path?query`, leaving out empty parameters. */
export function withQuery(path: string, query: CallOptions['query'] = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

/** The edge's login, returning to `returnTo` (a same-origin path) afterwards. */
export function loginUrl(returnTo: string): string {
  const safe = returnTo.startsWith('/') && !returnTo.startsWith('//') ? returnTo : '/';
  return `/auth/login?return_to=${encodeURIComponent(safe)}`;
}

/**
 * Whether a failed call means "the session is gone": a 401 on a call the session authorises.
 * Such a page sends the user to sign in and back. (A 403 is a signed-in user without the role.)
 */
export function sessionExpired(status: number, opts: CallOptions): boolean {
  return status === 401 && !opts.sessionOptional;
}

function headersFor(opts: CallOptions): Record<string, string> {
  const h: Record<string, string> = { accept: 'application/json' };
  if (opts.body !== undefined) h['content-type'] = 'application/json';
  return h;
}

/** What to do when the session has expired; the app sets this to a redirect to sign in. */
let onSessionExpired: () => void = () => {};
export function setSessionExpiredHandler(f: () => void): void {
  onSessionExpired = f;
}

/**
 * Calls `path`; resolves with the parsed JSON body (`null` for an empty one, as for 204).
 * @throws ApiFailure with the edge's or origin's problem, or a network problem.
 */
export async function api<T>(path: string, opts: CallOptions = {}): Promise<T> {
  let resp: Response;
  try {
    resp = await fetch(withQuery(path, opts.query), {
      method: opts.method ?? 'GET',
      headers: headersFor(opts),
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      credentials: 'same-origin',
      cache: 'no-store',
      signal: opts.signal,
    });
  } catch (err) {
    if (err instanceof DOMException && err.name === 'AbortError') throw err;
    throw new ApiFailure(networkProblem(err));
  }
  const raw = await resp.text();
  let body: unknown = null;
  try {
    body = raw ? JSON.parse(raw) : null;
  } catch {
    body = null;
  }
  if (!resp.ok) {
    if (sessionExpired(resp.status, opts)) onSessionExpired();
    throw new ApiFailure(problemFrom(resp.status, resp.statusText, body, resp.headers.get('retry-after')));
  }
  return body as T;
}
