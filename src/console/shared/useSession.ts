// The current session as component state: re-renders on sign-in, sign-out and expiry.
import { useEffect, useState } from 'preact/hooks';
import { currentSession, onSessionChange, type Session } from './session.js';

export function useSession(): Session | null {
  const [session, setSession] = useState(currentSession());
  useEffect(() => onSessionChange(() => setSession(currentSession())), []);
  return session;
}
