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
}

export const SessionContext = createContext<Me | null | undefined>(undefined);
export const useMe = () => useContext(SessionContext);

export const displayName = (me: Me) => me.name || me.email || me.sub;
