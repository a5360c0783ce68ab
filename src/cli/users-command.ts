import { text } from 'node:stream/consumers';
import { loadConfig, type Config } from '../platform/config.ts';
import { withDb } from './keys-command.ts';
import { audit, systemActor } from '../auth/audit.ts';
import { checkPasswordPolicy, hashPassword } from '../auth/password.ts';
import { findUserByEmail, insertUser, listUsers } from '../auth/users.ts';
import { createInvitation, invitationPath } from '../auth/invitations.ts';
import { isUserRole, USER_ROLES } from '../auth/principal.ts';
import { publishSessionStates, revokeUserSessions } from '../auth/sessions.ts';
import { HttpProblem } from '../platform/problem.ts';

/**
 * Where the site is reached, for links printed by the CLI: PUBLIC_URL, else http://HOST:PORT from the CLI's own
 * environment (so run it with the server's PUBLIC_URL or PORT); a wildcard HOST (0.0.0.0, ::) names 127.0.0.1.
 */
export function siteUrl(c: Pick<Config, 'PUBLIC_URL' | 'HOST' | 'PORT'> = loadConfig()): string {
  if (c.PUBLIC_URL) return c.PUBLIC_URL.replace(/\/$/, '');
  const host = ['0.0.0.0', '::', '[::]', ''].includes(c.HOST) ? '127.0.0.1' : c.HOST.includes(':') && !c.HOST.startsWith('[') ? `[${c.HOST}]` : c.HOST;
  return `http://${host}:${c.PORT}`;
}

/** Says where a printed link points when PUBLIC_URL is not set (the CLI cannot know the port of a server started elsewhere). */
function linkNote(): string {
  return loadConfig().PUBLIC_URL ? '' : ' (PUBLIC_URL is not set: the link names this shell\'s HOST and PORT; set PUBLIC_URL, or PORT, as for the server)';
}

const plain = (err: unknown) => (err instanceof HttpProblem ? new Error(err.message) : err);

/**
 * `gridpulse users create --email … --role admin [--name …] [--password-stdin]`: the password is read from
 * standard input (never argv, which other local users can see in the process list); without it a
 * one-time sign-in link (valid 24 h) is printed for the user to choose a password.
 */
export async function usersCreate(opts: { email: string; role: string; name?: string; passwordStdin?: boolean }): Promise<number> {
  if (!isUserRole(opts.role)) throw new Error(`--role: expected one of ${USER_ROLES.join(', ')}, got '${opts.role}'`);
  const role = opts.role;
  let password: string | undefined;
  if (opts.passwordStdin) {
    password = (await text(process.stdin)).replace(/\r?\n$/, '');
    try { checkPasswordPolicy(password, opts.email); } catch (err) { throw plain(err); }
  }
  const hash = password === undefined ? null : await hashPassword(password);
  const out = await withDb((db) => db.transaction(async (tx) => {
    const user = await insertUser(tx, { email: opts.email, role, displayName: opts.name, passwordHash: hash }).catch((err: unknown) => { throw plain(err); });
    await audit(tx, { ...systemActor(), action: 'users.create', outcome: 'success', objectType: 'user', objectId: user.id, detail: { email: user.email, role } });
    const link = hash ? undefined : await createInvitation(tx, { email: user.email, role, userId: user.id });
    return { user, link };
  }));
  process.stderr.write(`created ${role} ${out.user.email} (${out.user.id})\n`);
  if (out.link) {
    process.stderr.write(`one-time sign-in link (valid until ${out.link.invitation.expiresAt}; choose a password there)${linkNote()}:\n`);
    process.stdout.write(`${siteUrl()}${invitationPath(out.link.token)}\n`);
  }
  return 0;
}

/** `gridpulse users sign-in-link <email>`: a new one-time link to set a password (a forgotten one, a locked-out admin). */
export async function usersSignInLink(email: string): Promise<number> {
  const link = await withDb(async (db) => {
    const u = await findUserByEmail(db, email);
    if (!u) throw new Error(`no user ${email}`);
    return db.transaction(async (tx) => {
      const l = await createInvitation(tx, { email: u.email, role: u.role, userId: u.id });
      await audit(tx, { ...systemActor(), action: 'users.sign-in-link', outcome: 'success', objectType: 'user', objectId: u.id });
      return l;
    });
  });
  process.stderr.write(`one-time sign-in link (valid until ${link.invitation.expiresAt})${linkNote()}:\n`);
  process.stdout.write(`${siteUrl()}${invitationPath(link.token)}\n`);
  return 0;
}

/** `gridpulse users disable|enable <email>`: disabling ends every sign-in at once. */
export async function usersSetStatus(email: string, status: 'active' | 'disabled'): Promise<number> {
  await withDb(async (db) => {
    const u = await findUserByEmail(db, email);
    if (!u) throw new Error(`no user ${email}`);
    await db.transaction(async (tx) => {
      await tx.query('UPDATE users SET status = $2, updated_at = now() WHERE id = $1', [u.id, status]);
      if (status === 'disabled') await revokeUserSessions(tx, u.id, 'disabled');
      await audit(tx, { ...systemActor(), action: 'users.update', outcome: 'success', objectType: 'user', objectId: u.id, detail: { to: { status } } });
    });
    // a running web process on Redis sees it at once; on the in-process cache, at most 60 s later (its TTL)
    const { openCache } = await import('../platform/cache.ts');
    const cache = await openCache(loadConfig().REDIS_URL);
    try { await publishSessionStates({ db, cache }, { userIds: [u.id] }); } finally { await cache.close(); }
  });
  process.stderr.write(`${email}: ${status}\n`);
  return 0;
}

export async function usersList(): Promise<number> {
  const users = await withDb((db) => listUsers(db));
  const rows = [['id', 'email', 'role', 'status', 'name', 'created'], ...users.map((u) => [u.id, u.email, u.role, u.status, u.displayName, u.createdAt])];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  process.stdout.write(rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n');
  return 0;
}
