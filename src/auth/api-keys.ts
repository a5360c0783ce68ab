import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Db } from '../platform/db.ts';

export const ROLES = ['worker', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export interface ApiKey { id: string; name: string | null; role: Role; createdAt: string; lastUsedAt: string | null; revokedAt: string | null }

/** gp_<12 hex: public id>_<43 base64url: 32 random bytes> */
const TOKEN = /^gp_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;

// The token's text is hashed, not its decoded bytes: base64url's last character carries padding bits,
// so two different texts can decode to the same bytes, and only the exact token may authenticate.
function hashSecret(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}

type Row = { id: string; name: string | null; role: Role; created_at: Date | string; last_used_at: Date | string | null; revoked_at: Date | string | null };
const iso = (d: Date | string | null) => (d === null ? null : new Date(d).toISOString());
const toKey = (r: Row): ApiKey => ({ id: r.id, name: r.name, role: r.role, createdAt: iso(r.created_at)!, lastUsedAt: iso(r.last_used_at), revokedAt: iso(r.revoked_at) });

/** Creates a key and returns its token: the only time the token exists outside the caller. */
export async function createApiKey(db: Db, opts: { role: Role; name?: string | undefined }): Promise<{ key: ApiKey; token: string }> {
  const id = randomBytes(6).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  const [row] = await db.query<Row>(
    `INSERT INTO api_keys (id, name, role, secret_hash) VALUES ($1, $2, $3, $4)
     RETURNING id, name, role, created_at, last_used_at, revoked_at`,
    [id, opts.name ?? null, opts.role, hashSecret(secret).toString('hex')]);
  return { key: toKey(row!), token: `gp_${id}_${secret}` };
}

export async function listApiKeys(db: Db): Promise<ApiKey[]> {
  return (await db.query<Row>('SELECT id, name, role, created_at, last_used_at, revoked_at FROM api_keys ORDER BY created_at, id')).map(toKey);
}

/** Revokes a key by its public id; false when there is no such active key. */
export async function revokeApiKey(db: Db, id: string): Promise<boolean> {
  const rows = await db.query('UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL RETURNING id', [id]);
  return rows.length === 1;
}

/**
 * The active key a bearer token belongs to, compared in constant time; undefined for anything else.
 * `last_used_at` is kept to the minute, so a busy worker does not cost a write per request.
 */
export async function verifyApiKey(db: Db, token: string): Promise<ApiKey | undefined> {
  const m = TOKEN.exec(token);
  if (!m) return undefined;
  const [row] = await db.query<Row & { secret_hash: string; use_is_news: boolean }>(
    `SELECT id, name, role, created_at, last_used_at, revoked_at, secret_hash,
            last_used_at IS NULL OR last_used_at < now() - interval '1 minute' AS use_is_news
     FROM api_keys WHERE id = $1 AND revoked_at IS NULL`, [m[1]]);
  if (!row || !timingSafeEqual(Buffer.from(row.secret_hash, 'hex'), hashSecret(m[2]!))) return undefined;
  if (row.use_is_news) await db.query('UPDATE api_keys SET last_used_at = now() WHERE id = $1', [row.id]);
  return toKey(row);
}
