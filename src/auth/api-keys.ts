import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Db } from '../platform/db.ts';
import type { Cache } from '../platform/cache.ts';
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

/** The cache key of an API key's state (ids are 12 hex digits, so no other key starts with it). */
export const keyStateKey = (id: string) => `auth:key:${id}`;
/** PostgreSQL channel naming API keys whose state changed (payload: a JSON array of key ids), for the caches of every web copy. */
export const API_KEYS_CHANNEL = 'gridpulse_api_keys';
const KEY_STATE_TTL_SECONDS = 60;
/** How often one process records a key's last use (time and IP) when the IP does not change. */
export const LAST_USE_RESOLUTION_MS = 60_000;

/** The caches of this process's access hooks, and a count of key-state changes seen (so a read racing a change is not cached). */
const localCaches = new Set<Cache>();
let changes = 0;

/**
 * Drops these keys' cached state from this process's caches (and, through them, from a shared Redis), so the
 * next request reads the database. Called by revokeApiKey at once, by the `gridpulse_api_keys` listener of every
 * web copy when the change commits (session-sync.ts), and by callers after the transaction that changed them.
 */
export async function forgetApiKeyStates(ids: readonly string[], caches: Iterable<Cache> = localCaches): Promise<void> {
  changes++;
  await Promise.all([...caches].flatMap((c) => ids.map((id) => c.invalidatePrefix(keyStateKey(id)).catch(() => 0))));
}

/** Registers a cache holding key states in this process; returns the unregister. */
export function trackKeyStateCache(cache: Cache): () => void {
  localCaches.add(cache);
  return () => { localCaches.delete(cache); };
}

/**
 * Announces that these keys (or every key of these owners) changed: the notice reaches every web copy when the
 * calling transaction commits, and this process's caches drop them now.
 */
export async function announceApiKeyChanges(db: Db, q: { keyIds?: string[]; ownerIds?: string[] }): Promise<void> {
  const rows = await db.query<{ id: string }>(
    `SELECT id FROM api_keys WHERE id = ANY($1::text[]) OR owner_id = ANY($2::uuid[])`, [q.keyIds ?? [], q.ownerIds ?? []]);
  const ids = rows.map((r) => r.id);
  for (let i = 0; i < ids.length; i += 500) await db.query('SELECT pg_notify($1, $2)', [API_KEYS_CHANNEL, JSON.stringify(ids.slice(i, i + 500))]);
  await forgetApiKeyStates(ids);
}

/**
 * Revokes a key by its public id (only the owner's, when ownerId is given); false when there is no such active key.
 * The revocation is announced on `gridpulse_api_keys` as it commits (every web copy drops its cached state) and
 * dropped from this process's caches at once; a caller inside a transaction calls forgetApiKeyStates after it commits.
 */
export async function revokeApiKey(db: Db, id: string, ownerId?: string): Promise<boolean> {
  const rows = await db.query<{ id: string }>(
    `WITH r AS (UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND ($2::uuid IS NULL OR owner_id = $2::uuid) AND revoked_at IS NULL RETURNING id)
     SELECT id, pg_notify($3, json_build_array(id)::text) FROM r`, [id, ownerId ?? null, API_KEYS_CHANNEL]);
  if (rows.length === 1) await forgetApiKeyStates([id]);
  return rows.length === 1;
}

export interface VerifiedKey extends ApiKey { ownerRole: UserRole | null; ownerActive: boolean }

/** What the per-request check needs of a key: one cache entry per key, revoked and expired keys included. */
interface KeyState { key: ApiKey; secretHash: string; ownerRole: UserRole | null; ownerStatus: string | null }

/**
 * Checks API keys for one process's access hook. A key's state (secret hash, scopes, revocation, expiry, its
 * owner's role and status) comes from the cache — Redis shared by every web copy, or in process — or the database,
 * like a session's (sessions.ts): every change drops it everywhere (revokeApiKey, announceApiKeyChanges and the
 * `gridpulse_api_keys` listener), and expiry is compared with the clock on every request, so a revoked or expired
 * key is refused at the next request. Last use (time and IP) is written at most once a minute per key and process
 * (and at once when the IP changes), never once per request.
 */
export class ApiKeyVerifier {
  private readonly uses = new LRUCache<string, { ip: string | null; at: number }>({ max: 10_000 });
  /** Tokens whose secret was found to match a secret hash (the hash is compared again each time, so a re-keyed row is not matched). */
  private readonly matched = new LRUCache<string, string>({ max: 10_000 });
  /** The answer built for a cached state object (the in-process cache returns the same object until it changes). */
  private readonly answers = new WeakMap<KeyState, VerifiedKey>();
  private readonly db: Db;
  private readonly cache: Cache;
  private readonly now: () => number;
  private readonly untrack: () => void;
  constructor(db: Db, cache: Cache, now: () => number = Date.now) {
    this.db = db;
    this.cache = cache;
    this.now = now;
    this.untrack = trackKeyStateCache(cache);
  }

  close(): void { this.untrack(); }

  private async state(id: string): Promise<KeyState | undefined> {
    // A failing cache (Redis down) is a miss: the database answers, never an error and never a stale "yes".
    const hit = await this.cache.get<KeyState | null>(keyStateKey(id)).catch(() => undefined);
    if (hit !== undefined) return hit ?? undefined;
    const seen = changes;
    const [row] = await this.db.query<Row & { secret_hash: string; owner_role: UserRole | null; owner_status: string | null }>(
      `SELECT k.id, k.name, k.kind, k.scopes, k.owner_id, k.created_at, k.expires_at, k.last_used_at, k.last_used_ip, k.revoked_at, k.secret_hash,
              u.role AS owner_role, u.status AS owner_status
       FROM api_keys k LEFT JOIN users u ON u.id = k.owner_id WHERE k.id = $1`, [id]);
    const state = row ? { key: toKey(row), secretHash: row.secret_hash, ownerRole: row.owner_role, ownerStatus: row.owner_status } : undefined;
    // a change announced while the database answered may not be in this row: do not keep it
    if (seen === changes) await this.cache.set(keyStateKey(id), state ?? null, KEY_STATE_TTL_SECONDS).catch(() => { /* next request reads again */ });
    return state;
  }

  /** The active, unexpired key a bearer token belongs to (its secret compared in constant time); undefined for anything else. */
  async verify(token: string, ip?: string): Promise<VerifiedKey | undefined> {
    const m = TOKEN.exec(token);
    if (!m) return undefined;
    const state = await this.state(m[1]!);
    if (!state) return undefined;
    if (this.matched.get(token) !== state.secretHash) {
      if (!timingSafeEqual(Buffer.from(state.secretHash, 'hex'), hashSecret(m[2]!))) return undefined;
      this.matched.set(token, state.secretHash);
    }
    const { key } = state;
    if (key.revokedAt !== null || (key.expiresAt !== null && Date.parse(key.expiresAt) <= this.now())) return undefined;
    if (key.ownerId && state.ownerStatus !== 'active') return undefined;
    await this.noteUse(key.id, ip ?? null);
    let answer = this.answers.get(state);
    if (!answer) {
      answer = Object.freeze({ ...key, scopes: Object.freeze([...key.scopes]) as string[], ownerRole: state.ownerRole, ownerActive: state.ownerStatus === 'active' });
      this.answers.set(state, answer);
    }
    return answer;
  }

  private async noteUse(id: string, ip: string | null): Promise<void> {
    const last = this.uses.get(id);
    const t = this.now();
    if (last && last.ip === ip && t - last.at < LAST_USE_RESOLUTION_MS) return;
    this.uses.set(id, { ip, at: t });
    // other copies may have recorded it within the minute: the condition keeps that to one write per minute overall
    await this.db.query(
      `UPDATE api_keys SET last_used_at = now(), last_used_ip = $2
       WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute' OR last_used_ip IS DISTINCT FROM $2)`, [id, ip]);
  }
}
