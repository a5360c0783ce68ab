import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Db } from '../platform/db.ts';
import { HttpProblem } from '../platform/problem.ts';
import { DEFAULT_SCOPES, KIND_SCOPES, ROLE_SCOPES, isScope, type KeyKind } from './scopes.ts';
import type { UserRole } from './principal.ts';

export interface ApiKey {
  id: string; name: string | null; kind: KeyKind; scopes: string[]; ownerId: string | null;
  createdAt: string; expiresAt: string | null; lastUsedAt: string | null; lastUsedIp: string | null; revokedAt: string | null;
}

/** gp_<12 hex: public id>_<43 base64url: 32 random bytes> */
const TOKEN = /^gp_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;
export const isApiKeyToken = (s: string): boolean => s.startsWith('gp_');

// The token's text is hashed, not its decoded bytes: base64url's last character carries padding bits,
// so two different texts can decode to the same bytes, and only the exact token may authenticate.
function hashSecret(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}

type Row = { id: string; name: string | null; kind: KeyKind; scopes: string[]; owner_id: string | null; created_at: Date | string; expires_at: Date | string | null; last_used_at: Date | string | null; last_used_ip: string | null; revoked_at: Date | string | null };
const COLUMNS = 'id, name, kind, scopes, owner_id, created_at, expires_at, last_used_at, last_used_ip, revoked_at';
const iso = (d: Date | string | null) => (d === null ? null : new Date(d).toISOString());
const toKey = (r: Row): ApiKey => ({
  id: r.id, name: r.name, kind: r.kind, scopes: [...r.scopes], ownerId: r.owner_id, createdAt: iso(r.created_at)!, expiresAt: iso(r.expires_at),
  lastUsedAt: iso(r.last_used_at), lastUsedIp: r.last_used_ip, revokedAt: iso(r.revoked_at),
});

export interface NewKey { kind: KeyKind; scopes?: readonly string[] | undefined; name?: string | undefined; expiresAt?: Date | undefined; owner?: { id: string; role: UserRole } | undefined }

/** The scopes a new key gets, or 400 naming `scopes` (unknown scope, not for this kind, beyond the owner's role). */
export function keyScopes(k: NewKey): string[] {
  const scopes = k.scopes?.length ? [...new Set(k.scopes)] : [...DEFAULT_SCOPES[k.kind]];
  for (const s of scopes) {
    if (!isScope(s)) throw new HttpProblem(400, `scopes: unknown scope '${s}'`, 'scopes');
    if (!KIND_SCOPES[k.kind].includes(s)) throw new HttpProblem(400, `scopes: a ${k.kind} key cannot carry '${s}' (allowed: ${KIND_SCOPES[k.kind].join(', ')})`, 'scopes');
    if (k.owner && !ROLE_SCOPES[k.owner.role].includes(s)) throw new HttpProblem(400, `scopes: the role ${k.owner.role} does not hold '${s}'`, 'scopes');
  }
  if (k.kind === 'personal' && !k.owner) throw new HttpProblem(400, 'owner: a personal key belongs to a user', 'owner');
  return scopes.sort();
}

/** Creates a key and returns its token: the only time the token exists outside the caller. Only a SHA-256 of the secret is kept. */
export async function createApiKey(db: Db, k: NewKey): Promise<{ key: ApiKey; token: string }> {
  const scopes = keyScopes(k);
  if (k.expiresAt && k.expiresAt.getTime() <= Date.now()) throw new HttpProblem(400, 'expiresAt: must be in the future', 'expiresAt');
  const id = randomBytes(6).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  const [row] = await db.query<Row>(
    `INSERT INTO api_keys (id, name, kind, scopes, owner_id, expires_at, secret_hash) VALUES ($1, $2, $3, $4::text[], $5, $6, $7)
     RETURNING ${COLUMNS}`,
    [id, k.name ?? null, k.kind, scopes, k.owner?.id ?? null, k.expiresAt ?? null, hashSecret(secret).toString('hex')]);
  return { key: toKey(row!), token: `gp_${id}_${secret}` };
}

/** Keys, all or one owner's, oldest first. */
export async function listApiKeys(db: Db, ownerId?: string): Promise<ApiKey[]> {
  const rows = ownerId === undefined
    ? await db.query<Row>(`SELECT ${COLUMNS} FROM api_keys ORDER BY created_at, id`)
    : await db.query<Row>(`SELECT ${COLUMNS} FROM api_keys WHERE owner_id = $1 ORDER BY created_at, id`, [ownerId]);
  return rows.map(toKey);
}

/** Revokes a key by its public id (only the owner's, when ownerId is given); false when there is no such active key. */
export async function revokeApiKey(db: Db, id: string, ownerId?: string): Promise<boolean> {
  const rows = ownerId === undefined
    ? await db.query('UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL RETURNING id', [id])
    : await db.query('UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND owner_id = $2 AND revoked_at IS NULL RETURNING id', [id, ownerId]);
  return rows.length === 1;
}

export interface VerifiedKey extends ApiKey { ownerRole: UserRole | null; ownerActive: boolean }

/**
 * The active, unexpired key a bearer token belongs to, compared in constant time; undefined for anything
 * else. Last use (time and IP) is kept to the minute, so a busy worker does not cost a write per request.
 */
export async function verifyApiKey(db: Db, token: string, ip?: string): Promise<VerifiedKey | undefined> {
  const m = TOKEN.exec(token);
  if (!m) return undefined;
  const [row] = await db.query<Row & { secret_hash: string; use_is_news: boolean; owner_role: UserRole | null; owner_status: string | null }>(
    `SELECT k.id, k.name, k.kind, k.scopes, k.owner_id, k.created_at, k.expires_at, k.last_used_at, k.last_used_ip, k.revoked_at, k.secret_hash,
            u.role AS owner_role, u.status AS owner_status,
            k.last_used_at IS NULL OR k.last_used_at < now() - interval '1 minute' OR k.last_used_ip IS DISTINCT FROM $2 AS use_is_news
     FROM api_keys k LEFT JOIN users u ON u.id = k.owner_id
     WHERE k.id = $1 AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now())`, [m[1], ip ?? null]);
  if (!row || !timingSafeEqual(Buffer.from(row.secret_hash, 'hex'), hashSecret(m[2]!))) return undefined;
  if (row.owner_id && row.owner_status !== 'active') return undefined;
  if (row.use_is_news) await db.query('UPDATE api_keys SET last_used_at = now(), last_used_ip = $2 WHERE id = $1', [row.id, ip ?? null]);
  return { ...toKey(row), ownerRole: row.owner_role, ownerActive: row.owner_status === 'active' };
}
