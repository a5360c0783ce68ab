/** Shapes of the account API (src/auth/*-routes.ts) as the pages read them. */
import { localTarget } from './prefs.ts';
export interface Me { id: string; email: string; displayName: string; role: string; status: string; createdAt: string; passwordChangedAt: string | null; sessionId: string | null }
export interface SessionRow { id: string; kind: 'api' | 'web'; createdAt: string; lastSeenAt: string; expiresAt: string; ip: string | null; userAgent: string | null; current: boolean }
export interface KeyRow { id: string; name: string | null; kind: string; scopes: string[]; createdAt: string; expiresAt: string | null; lastUsedAt: string | null; lastUsedIp: string | null; revokedAt: string | null }
export interface UserRow { id: string; email: string; displayName: string; role: string; status: string; createdAt: string }
export interface InvitationRow { id: string; email: string; role: string; forUser: boolean; createdAt: string; expiresAt: string; usedAt: string | null; revokedAt: string | null }
export interface AuditRow { id: number; at: string; actorKind: string; actorId: string | null; userId: string | null; role: string | null; action: string; objectType: string | null; objectId: string | null; outcome: string; ip: string | null; requestId: string | null }

/** A same-site path to return to after signing in ('/account' when the value is missing or points elsewhere). */
export function safeNext(value: FormDataEntryValue | string | null | undefined): string {
  return localTarget(value, '/account');
}

export const field = (form: FormData, name: string): string => {
  const v = form.get(name);
  return typeof v === 'string' ? v : '';
};
