// Who is signed in, from the edge's /auth/me (the session cookie itself is HttpOnly: no script
// can read it). `undefined` while loading, `null` when signed out.

import { createContext } from 'preact';
import { useContext } from 'preact/hooks';

export interface Me {
  sub: string;
  email?: string | null;
  name?: string | null;
  /** When the session ends, renewals included (seconds since the epoch). */
  session_expires_at?: number | null;
  /**
   * The user's roles as the identity provider lists them (the edge's `[auth.oidc] roles_claim`):
   * `admin` opens the API keys page, `partner:ID` partner ID's orders. The edge enforces them;
   * the pages only use them to say what the user may do.
   */
  scopes?: string[] | null;
}

export const SessionContext = createContext<Me | null | undefined>(undefined);
export const useMe = () => useContext(SessionContext);

export const displayName = (me: Me) => me.name || me.email || me.sub;

/** Whether the signed-in user holds `scope`. */
export const hasScope = (me: Me, scope: string) => (me.scopes ?? []).includes(scope);

/** The partners the user may act for: the ids of its `partner:ID` scopes, sorted, each once. */
export const partnersOf = (me: Me): string[] =>
  [...new Set((me.scopes ?? []).filter((s) => s.startsWith('partner:')).map((s) => s.slice('partner:'.length)).filter(Boolean))].sort();
