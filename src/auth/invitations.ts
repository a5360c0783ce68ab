import { randomBytes } from 'node:crypto';
import type { Db } from '../platform/db.ts';
import { HttpProblem } from '../platform/problem.ts';
import { audit, type AuditActor } from './audit.ts';
import { checkPasswordPolicy, hashPassword } from './password.ts';
import { findUser, findUserByEmail, insertUser, normalEmail, toUser, type User } from './users.ts';
import { sha256 } from './sessions.ts';
import type { UserRole } from './principal.ts';

/** Invitations last 7 days; a one-time sign-in link (for the first admin, or a reset by an admin) 1 day. */
export const INVITATION_SECONDS = 7 * 24 * 3600;
export const SIGN_IN_LINK_SECONDS = 24 * 3600;

const TOKEN = /^gpi_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

export interface Invitation { id: string; email: string; role: UserRole; forUser: boolean; createdAt: string; expiresAt: string; usedAt: string | null; revokedAt: string | null }
type Row = { id: string; email: string; role: UserRole; user_id: string | null; created_at: Date; expires_at: Date; used_at: Date | null; revoked_at: Date | null };
const iso = (d: Date | null) => (d === null ? null : new Date(d).toISOString());
const toInvitation = (r: Row): Invitation => ({ id: r.id, email: r.email, role: r.role, forUser: r.user_id !== null, createdAt: iso(r.created_at)!, expiresAt: iso(r.expires_at)!, usedAt: iso(r.used_at), revokedAt: iso(r.revoked_at) });

/** The page a link opens: /invite/<token> (the token is shown once; only its hash is kept). */
export const invitationPath = (token: string) => `/invite/${token}`;

/**
 * Creates a single-use, expiring link (inside the caller's transaction): an invitation to create an account
 * with this e-mail and role, or (with userId) a one-time sign-in link that lets that user set a password.
 */
export async function createInvitation(tx: Db, i: { email: string; role: UserRole; userId?: string; createdBy?: string | null; seconds?: number }): Promise<{ invitation: Invitation; token: string }> {
  const email = normalEmail(i.email);
  if (!i.userId && await findUserByEmail(tx, email)) throw new HttpProblem(409, `email: an account with ${email} exists`, 'email');
  const id = randomBytes(8).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  const [row] = await tx.query<Row>(
    `INSERT INTO invitations (id, secret_hash, email, role, user_id, created_by, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7)) RETURNING id, email, role, user_id, created_at, expires_at, used_at, revoked_at`,
    [id, sha256(secret), email, i.role, i.userId ?? null, i.createdBy ?? null, i.seconds ?? (i.userId ? SIGN_IN_LINK_SECONDS : INVITATION_SECONDS)]);
  return { invitation: toInvitation(row!), token: `gpi_${id}_${secret}` };
}

export async function listInvitations(db: Db): Promise<Invitation[]> {
  return (await db.query<Row>('SELECT id, email, role, user_id, created_at, expires_at, used_at, revoked_at FROM invitations ORDER BY created_at DESC, id DESC LIMIT 500')).map(toInvitation);
}

export async function revokeInvitation(tx: Db, id: string): Promise<boolean> {
  return (await tx.query('UPDATE invitations SET revoked_at = now() WHERE id = $1 AND used_at IS NULL AND revoked_at IS NULL RETURNING id', [id])).length === 1;
}

/** What a link is for, without using it (the page shows the e-mail); undefined when unknown, used, revoked or expired. */
export async function peekInvitation(db: Db, token: string): Promise<Invitation | undefined> {
  const m = TOKEN.exec(token);
  if (!m) return undefined;
  const [row] = await db.query<Row & { secret_hash: string }>(
    `SELECT id, email, role, user_id, created_at, expires_at, used_at, revoked_at, secret_hash FROM invitations
     WHERE id = $1 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > now()`, [m[1]]);
  return row && row.secret_hash === sha256(m[2]!) ? toInvitation(row) : undefined;
}

/**
 * Uses a link once: creates the invited account (or sets the password of the link's user) with this
 * password, audited in the same transaction. 400 (field `token`) when the link is unknown, used, revoked
 * or expired; 400 (field `password`) when the password breaks the policy.
 */
export async function acceptInvitation(db: Db, token: string, input: { password: string; displayName?: string | undefined }, actor: AuditActor): Promise<User> {
  const m = TOKEN.exec(token);
  const refused = async (reason: string) => {
    await audit(db, { ...actor, action: 'invitations.accept', outcome: 'failure', objectType: 'invitation', objectId: m?.[1] ?? null, detail: { reason } });
    return new HttpProblem(400, 'token: this link is unknown, already used, revoked or expired; ask an administrator for a new one', 'token');
  };
  if (!m) throw await refused('malformed');
  const outcome = await db.transaction(async (tx) => {
    const [row] = await tx.query<Row & { secret_hash: string }>(
      `UPDATE invitations SET used_at = now() WHERE id = $1 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > now()
       RETURNING id, email, role, user_id, created_at, expires_at, used_at, revoked_at, secret_hash`, [m[1]]);
    if (!row || row.secret_hash !== sha256(m[2]!)) throw new RollBack('unknown, used, revoked or expired');
    checkPasswordPolicy(input.password, row.email);
    const hash = await hashPassword(input.password);
    let user: User;
    if (row.user_id) {
      const existing = await findUser(tx, row.user_id);
      if (!existing || existing.status !== 'active') throw new RollBack('the link\'s account is disabled or gone');
      await tx.query(`UPDATE users SET password_hash = $2, password_changed_at = now(), session_version = session_version + 1, updated_at = now() WHERE id = $1`, [row.user_id, hash]);
      await tx.query(`UPDATE sessions SET revoked_at = now(), revoked_reason = 'password' WHERE user_id = $1 AND revoked_at IS NULL`, [row.user_id]);
      user = toUser((await findUser(tx, row.user_id))!);
    } else {
      user = await insertUser(tx, { email: row.email, role: row.role, displayName: input.displayName, passwordHash: hash });
    }
    await audit(tx, { ...actor, actorKind: 'user', actorId: user.id, userId: user.id, role: user.role, action: row.user_id ? 'auth.sign-in-link' : 'invitations.accept', outcome: 'success', objectType: 'invitation', objectId: row.id });
    return user;
  }).catch(async (err: unknown) => {
    if (err instanceof RollBack) throw await refused(err.message);
    throw err;
  });
  return outcome;
}

class RollBack extends Error {}
