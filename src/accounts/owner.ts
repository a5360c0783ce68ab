import type { FastifyRequest } from 'fastify';
import { HttpProblem } from '../platform/problem.ts';

/**
 * The signed-in user who owns what a `/api/v1/me/…` route reads or writes. Everything a user owns is
 * looked up by (id, owner), so another user's id answers 404 exactly like an unknown one.
 */
export function ownerOf(req: FastifyRequest): string {
  const principal = (req as FastifyRequest & { principal?: { userId: string | number } | null }).principal;
  if (!principal) throw new HttpProblem(401, 'sign in (or send Authorization: Bearer <token>) to use saved views and alerts');
  return String(principal.userId);
}
