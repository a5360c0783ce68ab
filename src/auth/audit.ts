import type { FastifyRequest } from 'fastify';
import type { Db } from '../platform/db.ts';
import type { Principal } from './principal.ts';

/** Who did something, from where: a request's principal (or anonymous), IP and request id. */
export interface AuditActor {
  actorKind: 'user' | 'key' | 'anonymous' | 'system';
  actorId: string | null;
  userId: string | null;
  role: string | null;
  ip: string | null;
  requestId: string | null;
}

export interface AuditEvent extends AuditActor {
  /** Dotted verb: 'auth.login', 'auth.refresh.reuse', 'users.create', 'views.delete', 'access.denied', … */
  action: string;
  outcome: 'success' | 'failure' | 'denied';
  objectType?: string | null;
  objectId?: string | null;
  /** Small JSON facts (never secrets, never passwords or tokens). */
  detail?: Record<string, unknown> | null;
}

/** The actor of a request: its principal if any, its IP and request id. */
export function actorOf(req: FastifyRequest, principal: Principal | undefined = req.principal): AuditActor {
  return {
    actorKind: principal ? principal.kind : 'anonymous', actorId: principal?.id ?? null, userId: principal?.userId ?? null,
    role: principal?.role ?? null, ip: req.ip ?? null, requestId: String(req.id),
  };
}

/** The route a request was refused or throttled on, as an audit object: `GET /api/v1/me` (the path without its query when no route matched). */
export function routeObject(req: FastifyRequest): { objectType: 'route'; objectId: string } {
  return { objectType: 'route', objectId: `${req.method} ${req.routeOptions.url ?? req.url.split('?')[0]}` };
}

/** The actor for work not started by a request (CLI, worker). */
export const systemActor = (what = 'cli'): AuditActor => ({ actorKind: 'system', actorId: what, userId: null, role: null, ip: null, requestId: null });

/**
 * Appends one audit record. Call it with the transaction that makes the change, so the record and the
 * change commit (or roll back) together: `db.transaction(async (tx) => { …change…; await audit(tx, {...actorOf(req), action, …}) })`.
 * The table refuses UPDATE and DELETE (trigger, migration 0019).
 */
export async function audit(tx: Db, e: AuditEvent): Promise<void> {
  await tx.query(
    `INSERT INTO audit_log (actor_kind, actor_id, user_id, role, action, object_type, object_id, outcome, ip, request_id, detail)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
    [e.actorKind, e.actorId, e.userId, e.role, e.action, e.objectType ?? null, e.objectId ?? null, e.outcome, e.ip, e.requestId,
      e.detail ? JSON.stringify(e.detail) : null]);
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by a handler that wrote its own audit record, so the fallback for state-changing calls does not add another. */
    audited?: boolean;
  }
}

/** audit() for a request's change, marking the request audited. */
export async function auditRequest(tx: Db, req: FastifyRequest, e: Omit<AuditEvent, keyof AuditActor>): Promise<void> {
  await audit(tx, { ...actorOf(req), ...e });
  req.audited = true;
}
