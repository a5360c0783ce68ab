import { randomUUID } from 'node:crypto';
import type { Db } from '../platform/db.ts';
import { HttpProblem } from '../platform/problem.ts';
import type { UserRole } from './principal.ts';

export type UserStatus = 'active' | 'disabled';

export interface User {
  id: string; email: string; displayName: string; role: UserRole; status: UserStatus;
  sessionVersion: number; createdAt: string; passwordChangedAt: string | null; hasPassword: boolean;
}

export interface UserRow {
  id: string; email: string; display_name: string; role: UserRole; status: UserStatus; password_hash: string | null;
  session_version: number; created_at: Date | string; password_changed_at: Date | string | null;
}

const iso = (d: Date | string | null) => (d === null ? null : new Date(d).toISOString());

export const USER_COLUMNS = 'id, email, display_name, role, status, password_hash, session_version, created_at, password_changed_at';

export const toUser = (r: UserRow): User => ({
  id: r.id, email: r.email, displayName: r.display_name, role: r.role, status: r.status, sessionVersion: r.session_version,
  createdAt: iso(r.created_at)!, passwordChangedAt: iso(r.password_changed_at), hasPassword: r.password_hash !== null,
});

const EMAIL = /^[^\s@]{1,64}@[^\s@]+\.[^\s@]{2,}$/u;

/** A trimmed e-mail address, or 400 naming the field. */
export function normalEmail(email: string, field = 'email'): string {
  const e = email.trim();
  if (e.length > 254 || !EMAIL.test(e)) throw new HttpProblem(400, `${field}: not an e-mail address`, field);
  return e;
}

export async function findUserByEmail(db: Db, email: string): Promise<UserRow | undefined> {
  const [row] = await db.query<UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE lower(email) = lower($1)`, [email.trim()]);
  return row;
}

export async function findUser(db: Db, id: string): Promise<UserRow | undefined> {
  if (!/^[0-9a-f-]{36}$/i.test(id)) return undefined;
  const [row] = await db.query<UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE id = $1`, [id]);
  return row;
}

/** Creates a user; 409 naming `email` when the address (in any case) is taken. */
export async function insertUser(db: Db, u: { email: string; displayName?: string | undefined; role: UserRole; passwordHash: string | null }): Promise<User> {
  const email = normalEmail(u.email);
  if (await findUserByEmail(db, email)) throw new HttpProblem(409, `email: an account with ${email} exists`, 'email');
  const [row] = await db.query<UserRow>(
    `INSERT INTO users (id, email, display_name, role, password_hash, password_changed_at)
     VALUES ($1, $2, $3, $4, $5, CASE WHEN $5::text IS NULL THEN NULL ELSE now() END) RETURNING ${USER_COLUMNS}`,
    [randomUUID(), email, u.displayName ?? '', u.role, u.passwordHash]);
  return toUser(row!);
}

export async function listUsers(db: Db): Promise<User[]> {
  return (await db.query<UserRow>(`SELECT ${USER_COLUMNS} FROM users ORDER BY created_at, email`)).map(toUser);
}
