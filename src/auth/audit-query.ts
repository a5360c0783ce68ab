import type { Db } from '../platform/db.ts';

export interface AuditRecord {
  id: number; at: string; actorKind: string; actorId: string | null; userId: string | null; role: string | null; action: string;
  objectType: string | null; objectId: string | null; outcome: string; ip: string | null; requestId: string | null; detail: unknown;
}

export interface AuditFilter { from?: string | undefined; to?: string | undefined; user?: string | undefined; action?: string | undefined; limit: number; before?: number | undefined }

/**
 * Audit records newest first: `from` inclusive, `to` exclusive (ISO instants), `user` a user id or e-mail
 * (matched as the acting user), `action` exact or a prefix ending in '.' or '*' ('auth.' = every auth
 * event), `before` an id for paging.
 */
export async function queryAudit(db: Db, f: AuditFilter): Promise<AuditRecord[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (sql: string, v: unknown) => { params.push(v); where.push(sql.replace('?', `$${params.length}`)); };
  if (f.from) add('a.at >= ?', f.from);
  if (f.to) add('a.at < ?', f.to);
  if (f.user) add(/^[0-9a-f-]{36}$/i.test(f.user) ? 'a.user_id = ?::uuid' : 'a.user_id = (SELECT id FROM users WHERE lower(email) = lower(?))', f.user);
  if (f.action) {
    if (/[.*]$/.test(f.action)) add(`a.action LIKE ? ESCAPE '\\'`, `${f.action.replace(/\*$/, '').replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
    else add('a.action = ?', f.action);
  }
  if (f.before) add('a.id < ?', f.before);
  params.push(f.limit);
  const rows = await db.query<{ id: string | number; at: Date; actor_kind: string; actor_id: string | null; user_id: string | null; role: string | null; action: string; object_type: string | null; object_id: string | null; outcome: string; ip: string | null; request_id: string | null; detail: unknown }>(
    `SELECT a.* FROM audit_log a ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY a.id DESC LIMIT $${params.length}`, params);
  return rows.map((r) => ({
    id: Number(r.id), at: new Date(r.at).toISOString(), actorKind: r.actor_kind, actorId: r.actor_id, userId: r.user_id, role: r.role, action: r.action,
    objectType: r.object_type, objectId: r.object_id, outcome: r.outcome, ip: r.ip, requestId: r.request_id,
    detail: r.detail, // jsonb arrives parsed on both stores (a jsonb string is a string, not JSON text to parse again)
  }));
}
