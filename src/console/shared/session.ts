// The signed-in operator's session: the token signIn returned, kept in sessionStorage (gone when the
// tab closes; never a cookie, so no cross-site form can ride it). Expiry signs out on time; an
// UNAUTHENTICATED answer (signed out elsewhere, operator disabled) ends the session at once.
export interface Operator {
  id: string;
  username: string;
  displayName: string;
  role: 'admin' | 'merchant';
  branch: { code: string; name: string };
  merchant: { id: string; name: string } | null;
}

export interface Session {
  token: string;
  /** ISO 8601. */
  expiresAt: string;
  operator: Operator;
}

/** Also read by the explorer (src/console/explorer), which uses the console's session when there is one. */
export const sessionStorageKey = 'cb.session';

/** Why the last session ended, shown once on the sign-in page. */
export type EndReason = 'expired' | 'ended' | 'signedOut';

const listeners = new Set<() => void>();
let endReason: EndReason | null = null;
let expiryTimer: ReturnType<typeof setTimeout> | undefined;

export function currentSession(): Session | null {
  try {
    const raw = sessionStorage.getItem(sessionStorageKey);
    if (!raw) return null;
    const session = JSON.parse(raw) as Session;
    if (!session.token || Date.parse(session.expiresAt) <= Date.now()) {
      sessionStorage.removeItem(sessionStorageKey);
      endReason ??= 'expired';
      return null;
    }
    return session;
  } catch {
    return null;
  }
}

function armExpiry(): void {
  clearTimeout(expiryTimer);
  const session = currentSession();
  if (!session) return;
  // setTimeout holds at most 2^31-1 ms; a session is hours long.
  const ms = Math.min(Date.parse(session.expiresAt) - Date.now(), 2 ** 31 - 1);
  expiryTimer = setTimeout(() => endSession('expired'), Math.max(0, ms));
}

export function startSession(session: Session): void {
  sessionStorage.setItem(sessionStorageKey, JSON.stringify(session));
  endReason = null;
  armExpiry();
  for (const listener of listeners) listener();
}

export function endSession(reason: EndReason): void {
  clearTimeout(expiryTimer);
  sessionStorage.removeItem(sessionStorageKey);
  endReason = reason;
  for (const listener of listeners) listener();
}

/** The reason the last session ended, once (the sign-in page shows it). */
export function takeEndReason(): EndReason | null {
  const reason = endReason;
  endReason = null;
  return reason;
}

export function onSessionChange(listener: () => void): () => void {
  listeners.add(listener);
  return () => void listeners.delete(listener);
}

armExpiry();
