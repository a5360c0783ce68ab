import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Db } from '../../src/platform/db.ts';
import { hashPassword } from '../../src/auth/password.ts';
import { insertUser } from '../../src/auth/users.ts';
import { createApiKey } from '../../src/auth/api-keys.ts';
import type { UserRole } from '../../src/auth/principal.ts';
import type { KeyKind } from '../../src/auth/scopes.ts';

export interface SignedIn {
  headers: { authorization: string };
  userId: string; email: string; password: string; role: UserRole;
  accessToken: string; refreshToken: string;
}

let serial = 0;
// One scrypt hash per test process (about 0.3–1 s each): every user signIn creates shares this password unless given one.
const SHARED_PASSWORD = `pw-${randomBytes(12).toString('base64url')}`;
let sharedHash: Promise<string> | undefined;

/**
 * Creates an active user of a role (a fresh e-mail address each call, a random password) and signs them
 * in through the real path (POST /api/v1/auth/login): the access token, the refresh token and who it is.
 */
export async function signIn(app: FastifyInstance, db: Db, role: UserRole, opts: { email?: string; password?: string } = {}): Promise<SignedIn> {
  const email = opts.email ?? `${role}-${process.pid}-${++serial}-${randomBytes(3).toString('hex')}@example.org`;
  const password = opts.password ?? SHARED_PASSWORD;
  const passwordHash = opts.password === undefined ? await (sharedHash ??= hashPassword(SHARED_PASSWORD)) : await hashPassword(password);
  const user = await insertUser(db, { email, role, displayName: `${role} ${serial}`, passwordHash });
  // each sign-in from its own address in the benchmarking range 198.18.0.0/15 (RFC 2544), so a test's deliberate failures from
  // 127.0.0.1 never throttle the sign-ins of the next test (throttle.ts counts per IP)
  const remoteAddress = `198.18.${(serial >> 8) & 255}.${serial & 255}`;
  const res = await app.inject({ method: 'POST', url: '/api/v1/auth/login', remoteAddress, payload: { email, password } });
  if (res.statusCode !== 200) throw new Error(`sign-in of ${email} failed: ${res.statusCode} ${res.body}`);
  const body = res.json<{ accessToken: string; refreshToken: string }>();
  return { headers: { authorization: `Bearer ${body.accessToken}` }, userId: user.id, email, password, role, accessToken: body.accessToken, refreshToken: body.refreshToken };
}

/** `Authorization: Bearer <access token>` of a new user of this role, signed in through the real login route. */
export async function authHeaders(app: FastifyInstance, db: Db, role: UserRole): Promise<{ authorization: string }> {
  return (await signIn(app, db, role)).headers;
}

/**
 * `Authorization: Bearer gp_…` of a new API key of this kind and scopes (default scopes of the kind when
 * omitted). A personal key needs its owner: pass one, or a new analyst is created for it.
 */
export async function keyHeaders(db: Db, kind: KeyKind, scopes?: readonly string[], owner?: { id: string; role: UserRole }): Promise<{ authorization: string }> {
  let who = owner;
  if (kind === 'personal' && !who) {
    const u = await insertUser(db, { email: `key-owner-${process.pid}-${++serial}@example.org`, role: 'analyst', passwordHash: null });
    who = { id: u.id, role: u.role };
  }
  const { token } = await createApiKey(db, { kind, scopes, owner: who });
  return { authorization: `Bearer ${token}` };
}
