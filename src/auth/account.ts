import type { Db } from '../platform/db.ts';
import { HttpProblem } from '../platform/problem.ts';
import { audit, type AuditActor } from './audit.ts';
import { checkPasswordPolicy, hashPassword, verifyPassword } from './password.ts';
import { publishSessionStates, revokeUserSessions, type AuthDeps } from './sessions.ts';
import { findUser, toUser, USER_COLUMNS, type User, type UserRow, type UserStatus } from './users.ts';
import type { UserRole } from './principal.ts';

/**
 * Changes a password: the current one must match; the new one must meet the policy. Every session of the
 * user ends (access tokens included, via the session version), the caller signs in again.
 */
export async function changePassword(deps: AuthDeps, userId: string, current: string, next: string, actor: AuditActor): Promise<void> {
  const row = await findUser(deps.db, userId);
  if (!row) throw new HttpProblem(404, 'no such user');
  if (!row.password_hash || !await verifyPassword(current, row.password_hash)) {
    await audit(deps.db, { ...actor, action: 'account.password', outcome: 'failure', objectType: 'user', objectId: userId, detail: { reason: 'current password wrong' } });
    throw new HttpProblem(400, 'currentPassword: the current password is wrong', 'currentPassword');
  }
  checkPasswordPolicy(next, row.email, 'newPassword');
  const hash = await hashPassword(next);
  await deps.db.transaction(async (tx) => {
    await tx.query('UPDATE users SET password_hash = $2, password_changed_at = now() WHERE id = $1', [userId, hash]);
    const ended = await revokeUserSessions(tx, userId, 'password');
    await audit(tx, { ...actor, action: 'account.password', outcome: 'success', objectType: 'user', objectId: userId, detail: { sessionsEnded: ended } });
  });
  await publishSessionStates(deps, { userIds: [userId] });
}

/** "Sign out everywhere": ends every session of the user. */
export async function signOutEverywhere(deps: AuthDeps, userId: string, actor: AuditActor): Promise<number> {
  const ended = await deps.db.transaction(async (tx) => {
    const n = await revokeUserSessions(tx, userId, 'sign-out-everywhere');
    await audit(tx, { ...actor, action: 'auth.sign-out-everywhere', outcome: 'success', objectType: 'user', objectId: userId, detail: { sessionsEnded: n } });
    return n;
  });
  await publishSessionStates(deps, { userIds: [userId] });
  return ended;
}

/** Ends one session of the user's own; false when the user has no such live session (another user's id included). */
export async function endOwnSession(deps: AuthDeps, userId: string, sessionId: string, actor: AuditActor): Promise<boolean> {
  if (!/^[0-9a-f-]{36}$/i.test(sessionId)) return false;
  const ok = await deps.db.transaction(async (tx) => {
    const rows = await tx.query(`UPDATE sessions SET revoked_at = now(), revoked_reason = 'logout' WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL RETURNING id`, [sessionId, userId]);
    if (rows.length) await audit(tx, { ...actor, action: 'auth.logout', outcome: 'success', objectType: 'session', objectId: sessionId });
    return rows.length === 1;
  });
  if (ok) await publishSessionStates(deps, { sessionIds: [sessionId] });
  return ok;
}

export async function updateProfile(db: Db, userId: string, displayName: string, actor: AuditActor): Promise<User> {
  return db.transaction(async (tx) => {
    const [row] = await tx.query<UserRow>(`UPDATE users SET display_name = $2, updated_at = now() WHERE id = $1 RETURNING ${USER_COLUMNS}`, [userId, displayName.trim()]);
    if (!row) throw new HttpProblem(404, 'no such user');
    await audit(tx, { ...actor, action: 'account.profile', outcome: 'success', objectType: 'user', objectId: userId });
    return toUser(row);
  });
}

/**
 * An admin changes a user's role or status. Disabling or changing the role ends the user's sessions at
 * once. An admin cannot demote or disable themself (so an install always keeps an admin who can undo it).
 */
export async function updateUser(deps: AuthDeps, id: string, change: { role?: UserRole | undefined; status?: UserStatus | undefined }, actor: AuditActor): Promise<User> {
  if (actor.userId === id && ((change.role && change.role !== 'admin') || change.status === 'disabled')) {
    throw new HttpProblem(409, 'role: an administrator cannot demote or disable their own account', change.role ? 'role' : 'status');
  }
  const user = await deps.db.transaction(async (tx) => {
    const before = await findUser(tx, id);
    if (!before) throw new HttpProblem(404, 'no such user');
    const [row] = await tx.query<UserRow>(`UPDATE users SET role = coalesce($2, role), status = coalesce($3, status), updated_at = now() WHERE id = $1 RETURNING ${USER_COLUMNS}`,
      [id, change.role ?? null, change.status ?? null]);
    const ends = (change.role && change.role !== before.role) || (change.status === 'disabled' && before.status !== 'disabled');
    if (ends) await revokeUserSessions(tx, id, change.status === 'disabled' ? 'disabled' : 'role');
    await audit(tx, { ...actor, action: 'users.update', outcome: 'success', objectType: 'user', objectId: id, detail: { from: { role: before.role, status: before.status }, to: change } });
    return toUser(row!);
  });
  await publishSessionStates(deps, { userIds: [id] });
  return user;
}
