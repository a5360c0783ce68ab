import type { FastifyRequest } from 'fastify';
import type { Access } from '../auth/access.ts';
import { auditRequest } from '../auth/audit.ts';
import type { Db } from '../platform/db.ts';
import { USER_ROLES } from '../auth/principal.ts';
import { HttpProblem } from '../platform/problem.ts';

/** Access of the owner's /api/v1/me/… routes: any signed-in user, or a personal key with these scopes; objects are the caller's own. */
export const ownerAccess = (...scopes: string[]): Access => ({ roles: USER_ROLES, scopes, owner: true });

/**
 * The signed-in user who owns what a `/api/v1/me/…` route reads or writes (the access hook has already
 * refused anonymous callers and keys without an owner). Everything a user owns is looked up by (id, owner),
 * so another user's id answers 404 exactly like an unknown one.
 */
export function ownerOf(req: FastifyRequest): string {
  const userId = req.principal?.userId;
  if (!userId) throw new HttpProblem(401, 'sign in (or send Authorization: Bearer <token>) to use saved views and alerts');
  return userId;
}

/**
 * Runs a change to something the caller owns and writes its audit record in the same transaction. A change
 * that finds nothing of the caller's (`undefined` or false) throws `notFound` and commits nothing.
 */
export function ownedChange<T>(db: Db, req: FastifyRequest, what: { action: string; objectType: string; notFound: () => Error },
  fn: (tx: Db) => Promise<T | undefined>, idOf?: (out: T) => string): Promise<T> {
  return db.transaction(async (tx) => {
    const out = await fn(tx);
    if (out === undefined || out === false) throw what.notFound();
    const objectId = idOf ? idOf(out) : (req.params as { id?: string } | undefined)?.id ?? null;
    await auditRequest(tx, req, { action: what.action, outcome: 'success', objectType: what.objectType, objectId });
    return out;
  });
}
