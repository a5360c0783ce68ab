import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Db } from '../platform/db.ts';
import type { Cache } from '../platform/cache.ts';
import type { KeyRing } from './signing-keys.ts';
import { ACCESS_TOKEN_SECONDS, signAccessToken, type TokenSettings } from './access-token.ts';
import { audit, type AuditActor } from './audit.ts';
import { decoyHash, verifyPassword } from './password.ts';
import { findUserByEmail, type UserRow } from './users.ts';
import { announceApiKeyChanges } from './api-keys.ts';
import { clearFailures, recordFailure, throttleKeys, throttleWait } from './throttle.ts';
import type { UserRole } from './principal.ts';

/** Absolute lifetime of a sign-in (refresh family or web session): no refresh extends it. */
export const SESSION_ABSOLUTE_SECONDS = 30 * 24 * 3600;

export interface AuthDeps { db: Db; cache: Cache; ring: KeyRing; settings: TokenSettings; now?: () => number }

/** What a request's sign-in looks like to the access hook: one cache entry per session. */
export interface SessionState {
  sessionId: string; userId: string; kind: 'api' | 'web'; role: UserRole; status: 'active' | 'disabled';
  sessionVersion: number; revoked: boolean; expiresAt: number; secretHash: string | null;
}

const STATE_TTL_SECONDS = 60;
/** The cache key of a session's state (one key per session, no other key starts with it). */
export const stateKey = (sid: string) => `auth:session:${sid}`;
/** PostgreSQL channel naming sessions whose state changed (payload: a JSON array of session ids), for caches of other processes. */
export const SESSIONS_CHANNEL = 'gridpulse_sessions';
/** Session ids per NOTIFY payload: 36-character UUIDs stay well under PostgreSQL's 8000-byte limit. */
const IDS_PER_NOTIFY = 150;

export const sha256 = (s: string): string => createHash('sha256').update(s, 'utf8').digest('hex');
const secret = () => randomBytes(32).toString('base64url');
const sameHash = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

const REFRESH = /^gpr_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;
const WEB = /^gps_([0-9a-f]{32})_([A-Za-z0-9_-]{43})$/;
const uuidOf = (hex: string) => `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;

/** A web session cookie value 'gps_<session id>_<secret>' split into its session id and secret; undefined when malformed. */
export function parseWebSession(value: string): { sessionId: string; secret: string } | undefined {
  const m = WEB.exec(value);
  return m ? { sessionId: uuidOf(m[1]!), secret: m[2]! } : undefined;
}

type StateRow = { id: string; user_id: string; kind: 'api' | 'web'; role: UserRole; status: 'active' | 'disabled'; session_version: number; revoked_at: Date | null; expires_at: Date | string; secret_hash: string | null };
const toState = (r: StateRow): SessionState => ({
  sessionId: r.id, userId: r.user_id, kind: r.kind, role: r.role, status: r.status, sessionVersion: r.session_version,
  revoked: r.revoked_at !== null, expiresAt: new Date(r.expires_at).getTime(), secretHash: r.secret_hash,
});
const STATE_SQL = `SELECT s.id, s.user_id, s.kind, u.role, u.status, u.session_version, s.revoked_at, s.expires_at, s.secret_hash
                   FROM sessions s JOIN users u ON u.id = s.user_id`;

/**
 * A session's state for the per-request check, from the cache (Redis shared by every web copy, or in
 * process) or the database. Every change (logout, revoke, password, disable, role) writes the new state
 * to the cache after its commit (`publishSessionStates`), so it takes effect on the next request.
 */
export async function sessionState(deps: Pick<AuthDeps, 'db' | 'cache'>, sid: string): Promise<SessionState | undefined> {
  // A failing cache (Redis down) is a miss: the database answers, never an error and never a stale "yes".
  const hit = await deps.cache.get<SessionState | null>(stateKey(sid)).catch(() => undefined);
  if (hit !== undefined) return hit ?? undefined;
  const [row] = await deps.db.query<StateRow>(`${STATE_SQL} WHERE s.id = $1`, [sid]);
  const state = row ? toState(row) : undefined;
  await deps.cache.set(stateKey(sid), state ?? null, STATE_TTL_SECONDS).catch(() => { /* the next request reads the database again */ });
  return state;
}

/** Writes the current state of these sessions (or of every session of these users) to the cache. */
export async function publishSessionStates(deps: Pick<AuthDeps, 'db' | 'cache'>, q: { sessionIds?: string[]; userIds?: string[] }): Promise<void> {
  const rows = await deps.db.query<StateRow>(`${STATE_SQL} WHERE s.id = ANY($1::uuid[]) OR s.user_id = ANY($2::uuid[])`, [q.sessionIds ?? [], q.userIds ?? []]);
  // With Redis down the write fails; every copy then reads the database (sessionState) until it is back.
  await Promise.all(rows.map((r) => deps.cache.set(stateKey(r.id), toState(r), STATE_TTL_SECONDS))).catch(() => {});
  // Other web copies with their own in-process cache drop their copies (src/auth/session-sync.ts).
  for (let i = 0; i < rows.length; i += IDS_PER_NOTIFY) {
    await deps.db.query('SELECT pg_notify($1, $2)', [SESSIONS_CHANNEL, JSON.stringify(rows.slice(i, i + IDS_PER_NOTIFY).map((r) => r.id))]);
  }
  // a user's disable or role change also changes what their personal keys may do
  if (q.userIds?.length) await announceApiKeyChanges(deps.db, { ownerIds: q.userIds });
}

export interface Tokens { accessToken: string; tokenType: 'Bearer'; expiresIn: number; refreshToken?: string; sessionId: string; webSession?: string; userId: string }

async function issueAccess(deps: AuthDeps, user: { id: string; role: UserRole; session_version: number }, sid: string): Promise<string> {
  return signAccessToken(deps.ring, deps.settings, { sub: user.id, role: user.role, sid, sv: user.session_version }, deps.now?.());
}

async function newRefreshToken(tx: Db, sessionId: string): Promise<string> {
  const id = randomBytes(8).toString('hex');
  const s = secret();
  await tx.query('INSERT INTO refresh_tokens (id, session_id, secret_hash) VALUES ($1, $2, $3)', [id, sessionId, sha256(s)]);
  return `gpr_${id}_${s}`;
}

export type LoginResult = { ok: true; tokens: Tokens; user: UserRow } | { ok: false; status: 401 | 429; detail: string; retryAfter?: number };

/**
 * Signs a user in with e-mail and password: throttled per account and IP (throttle.ts), a constant-time
 * answer whether or not the account exists (a decoy hash is verified), audited either way. An 'api'
 * sign-in returns an access JWT and a refresh token; a 'web' one an access JWT and the session cookie value.
 */
export async function login(deps: AuthDeps, input: { email: string; password: string; kind: 'api' | 'web'; userAgent?: string | null }, actor: AuditActor): Promise<LoginResult> {
  const keys = throttleKeys(input.email, actor.ip ?? 'unknown');
  const wait = await throttleWait(deps.db, [keys.account, keys.ip], deps.now?.());
  const email = input.email.trim().toLowerCase().slice(0, 254);
  if (wait > 0) {
    await audit(deps.db, { ...actor, action: 'auth.login', outcome: 'denied', objectType: 'account', objectId: email, detail: { reason: 'throttled', retryAfter: wait } });
    return { ok: false, status: 429, detail: `too many failed sign-ins for this account or from this address; try again in ${wait} s`, retryAfter: wait };
  }
  const user = await findUserByEmail(deps.db, input.email);
  const matches = await verifyPassword(input.password, user?.password_hash ?? await decoyHash());
  if (!user || !user.password_hash || !matches || user.status !== 'active') {
    const { locked } = await recordFailure(deps.db, keys);
    const reason = !user ? 'unknown account' : !user.password_hash ? 'no password set' : !matches ? 'wrong password' : 'account disabled';
    await audit(deps.db, { ...actor, userId: user?.id ?? null, action: 'auth.login', outcome: 'failure', objectType: 'account', objectId: email, detail: { reason, locked } });
    const detail = matches && user?.status === 'disabled' ? 'this account is disabled' : 'the e-mail address or password is wrong';
    return { ok: false, status: 401, detail };
  }
  await clearFailures(deps.db, keys.account);
  const sessionId = randomUUID();
  const webSecret = input.kind === 'web' ? secret() : undefined;
  const refreshToken = await deps.db.transaction(async (tx) => {
    await tx.query(
      `INSERT INTO sessions (id, user_id, kind, expires_at, ip, user_agent, secret_hash)
       VALUES ($1, $2, $3, now() + make_interval(secs => $4), $5, $6, $7)`,
      [sessionId, user.id, input.kind, SESSION_ABSOLUTE_SECONDS, actor.ip, input.userAgent?.slice(0, 300) ?? null, webSecret ? sha256(webSecret) : null]);
    await audit(tx, { ...actor, actorKind: 'user', actorId: user.id, userId: user.id, role: user.role, action: 'auth.login', outcome: 'success', objectType: 'session', objectId: sessionId, detail: { kind: input.kind } });
    return input.kind === 'api' ? newRefreshToken(tx, sessionId) : undefined;
  });
  const accessToken = await issueAccess(deps, user, sessionId);
  const tokens: Tokens = {
    accessToken, tokenType: 'Bearer', expiresIn: ACCESS_TOKEN_SECONDS, sessionId, userId: user.id,
    ...(refreshToken ? { refreshToken } : {}), ...(webSecret ? { webSession: `gps_${sessionId.replaceAll('-', '')}_${webSecret}` } : {}),
  };
  return { ok: true, tokens, user };
}

export type RefreshResult = { ok: true; tokens: Tokens } | { ok: false; detail: string };

/**
 * Rotates a refresh token: the presented one is spent and a new one of the same family returned with a
 * fresh access JWT. A spent token presented again means it was stolen (or the client is broken): the whole
 * family (session) is revoked, its access JWTs stop working at once, and 'auth.refresh.reuse' is audited.
 */
export async function refresh(deps: AuthDeps, token: string, actor: AuditActor): Promise<RefreshResult> {
  const m = REFRESH.exec(token);
  const fail = async (detail: string, reason: string, extra: Partial<AuditActor> = {}, objectId: string | null = null) => {
    await audit(deps.db, { ...actor, ...extra, action: 'auth.refresh', outcome: 'failure', objectType: 'session', objectId, detail: { reason } });
    return { ok: false as const, detail };
  };
  if (!m) return fail('refreshToken: not a GridPulse refresh token', 'malformed');
  type Row = { session_id: string; secret_hash: string; used_at: Date | null; user_id: string; revoked_at: Date | null; expired: boolean; role: UserRole; status: string; session_version: number };
  const outcome = await deps.db.transaction(async (tx) => {
    const [row] = await tx.query<Row>(
      `SELECT r.session_id, r.secret_hash, r.used_at, s.user_id, s.revoked_at, s.expires_at <= now() AS expired, u.role, u.status, u.session_version
       FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id JOIN users u ON u.id = s.user_id
       WHERE r.id = $1 FOR UPDATE OF r, s`, [m[1]]);
    if (!row || !sameHash(row.secret_hash, sha256(m[2]!))) return { kind: 'unknown' as const };
    const who = { actorKind: 'user' as const, actorId: row.user_id, userId: row.user_id, role: row.role };
    if (row.revoked_at) return { kind: 'revoked' as const, row, who };
    const spent = row.used_at !== null
      || (await tx.query('UPDATE refresh_tokens SET used_at = now() WHERE id = $1 AND used_at IS NULL RETURNING id', [m[1]])).length === 0;
    if (spent) {
      await tx.query(`UPDATE sessions SET revoked_at = now(), revoked_reason = 'reuse' WHERE id = $1`, [row.session_id]);
      await audit(tx, { ...actor, ...who, action: 'auth.refresh.reuse', outcome: 'denied', objectType: 'session', objectId: row.session_id, detail: { reason: 'a spent refresh token was presented again: the family is revoked' } });
      return { kind: 'reuse' as const, row, who };
    }
    if (row.expired || row.status !== 'active') return { kind: row.expired ? 'expired' as const : 'disabled' as const, row, who };
    await tx.query('UPDATE sessions SET last_seen_at = now() WHERE id = $1', [row.session_id]);
    const next = await newRefreshToken(tx, row.session_id);
    await audit(tx, { ...actor, ...who, action: 'auth.refresh', outcome: 'success', objectType: 'session', objectId: row.session_id });
    return { kind: 'ok' as const, row, next };
  });
  switch (outcome.kind) {
    case 'unknown': return fail('refreshToken: unknown refresh token', 'unknown');
    case 'reuse':
      await publishSessionStates(deps, { sessionIds: [outcome.row.session_id] });
      return { ok: false, detail: 'refreshToken: this refresh token was already used; the sign-in it belongs to is revoked (sign in again)' };
    case 'revoked': return fail('refreshToken: this sign-in was ended; sign in again', 'session revoked', outcome.who, outcome.row.session_id);
    case 'expired': return fail('refreshToken: this sign-in has reached its absolute lifetime; sign in again', 'session expired', outcome.who, outcome.row.session_id);
    case 'disabled': return fail('refreshToken: this account is disabled', 'account disabled', outcome.who, outcome.row.session_id);
    case 'ok': {
      const { row } = outcome;
      const accessToken = await issueAccess(deps, { id: row.user_id, role: row.role, session_version: row.session_version }, row.session_id);
      return { ok: true, tokens: { accessToken, tokenType: 'Bearer', expiresIn: ACCESS_TOKEN_SECONDS, refreshToken: outcome.next, sessionId: row.session_id, userId: row.user_id } };
    }
  }
}

/** Ends one session (its refresh tokens and access JWTs stop working at once). */
export async function logout(deps: AuthDeps, sessionId: string, actor: AuditActor): Promise<void> {
  await deps.db.transaction(async (tx) => {
    await tx.query(`UPDATE sessions SET revoked_at = now(), revoked_reason = 'logout' WHERE id = $1 AND revoked_at IS NULL`, [sessionId]);
    await audit(tx, { ...actor, action: 'auth.logout', outcome: 'success', objectType: 'session', objectId: sessionId });
  });
  await publishSessionStates(deps, { sessionIds: [sessionId] });
}

/**
 * Ends every session of a user and bumps their session version, inside the caller's transaction (with its
 * audit record); call `publishSessionStates(deps, { userIds })` after the commit.
 */
export async function revokeUserSessions(tx: Db, userId: string, reason: string): Promise<number> {
  await tx.query('UPDATE users SET session_version = session_version + 1, updated_at = now() WHERE id = $1', [userId]);
  const rows = await tx.query(`UPDATE sessions SET revoked_at = now(), revoked_reason = $2 WHERE user_id = $1 AND revoked_at IS NULL RETURNING id`, [userId, reason]);
  return rows.length;
}

export interface SessionInfo { id: string; kind: 'api' | 'web'; createdAt: string; lastSeenAt: string; expiresAt: string; ip: string | null; userAgent: string | null; current: boolean }

/** A user's active sessions, newest first. */
export async function listSessions(db: Db, userId: string, currentId?: string): Promise<SessionInfo[]> {
  const rows = await db.query<{ id: string; kind: 'api' | 'web'; created_at: Date; last_seen_at: Date; expires_at: Date; ip: string | null; user_agent: string | null }>(
    `SELECT id, kind, created_at, last_seen_at, expires_at, ip, user_agent FROM sessions
     WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > now() ORDER BY created_at DESC, id DESC`, [userId]);
  return rows.map((r) => ({
    id: r.id, kind: r.kind, createdAt: new Date(r.created_at).toISOString(), lastSeenAt: new Date(r.last_seen_at).toISOString(),
    expiresAt: new Date(r.expires_at).toISOString(), ip: r.ip, userAgent: r.user_agent, current: r.id === currentId,
  }));
}
