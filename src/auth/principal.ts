/** The four roles a person can hold (issue 12). Keys are principals too, with role 'worker' or 'device' (or their owner's role). */
export const USER_ROLES = ['admin', 'operator', 'analyst', 'viewer'] as const;
export type UserRole = (typeof USER_ROLES)[number];

/** Who is calling: a signed-in user (access JWT or web session cookie) or an API key. */
export interface Principal {
  kind: 'user' | 'key';
  /** The user's id (kind 'user'), or the key's public id (kind 'key'). */
  id: string;
  /** The user acting: the user, or the owner of a personal key; null for worker and device keys. */
  userId: string | null;
  /** A user's role; a personal key acts with its owner's role; worker and device keys have their kind; an OpenADR client (src/auth/client-credentials.ts) is 'client'. */
  role: UserRole | 'worker' | 'device' | 'client';
  /** What a key may do (src/auth/scopes.ts); a user's scopes are those of their role. */
  scopes: readonly string[];
  /** The session (refresh family or web cookie session) a user's request belongs to. */
  sessionId?: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the access hook (src/auth/access-hook.ts) when the request carries valid credentials. */
    principal?: Principal;
  }
}

export const isUserRole = (s: string): s is UserRole => (USER_ROLES as readonly string[]).includes(s);
