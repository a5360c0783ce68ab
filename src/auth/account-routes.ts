import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { HttpProblem } from '../platform/problem.ts';
import { actorOf, auditRequest } from './audit.ts';
import { USER_ROLES, type UserRole } from './principal.ts';
import { changePassword, endOwnSession, signOutEverywhere, updateProfile } from './account.ts';
import { createApiKey, forgetApiKeyStates, listApiKeys, revokeApiKey } from './api-keys.ts';
import { listSessions, type AuthDeps } from './sessions.ts';
import { problemSchema, userSchema } from './auth-routes.ts';
import { acceptInvitation } from './invitations.ts';
import { SCOPES } from './scopes.ts';
import { isoInstant } from '../platform/instant.ts';
import { distinctItems } from '../platform/input-guard.ts';

const SIGNED_IN = { roles: USER_ROLES } as const;
const OWN = { roles: USER_ROLES, owner: true } as const;

export const keySchema = z.object({
  id: z.string().describe('public id (the token is gp_<id>_<secret>, shown once at creation)'), name: z.string().nullable(),
  kind: z.enum(['worker', 'device', 'personal']), scopes: z.array(z.string()), createdAt: z.string(), expiresAt: z.string().nullable(),
  lastUsedAt: z.string().nullable().describe('to the minute'), lastUsedIp: z.string().nullable(), revokedAt: z.string().nullable(),
});
const toKeyJson = (k: z.infer<typeof keySchema> & { ownerId?: unknown }) => ({ id: k.id, name: k.name, kind: k.kind, scopes: k.scopes, createdAt: k.createdAt, expiresAt: k.expiresAt, lastUsedAt: k.lastUsedAt, lastUsedIp: k.lastUsedIp, revokedAt: k.revokedAt });

const sessionSchema = z.object({
  id: z.string(), kind: z.enum(['api', 'web']), createdAt: z.string(), lastSeenAt: z.string(), expiresAt: z.string().describe('absolute end of the sign-in'),
  ip: z.string().nullable(), userAgent: z.string().nullable(), current: z.boolean(),
});

/**
 * The signed-in user's own account: profile, password, sessions ("sign out everywhere"), personal API keys,
 * and accepting an invitation. Another user's session or key id answers 404, never the object.
 */
export function accountRoutes(app: FastifyInstance, deps: AuthDeps): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const uid = (req: { principal?: { userId: string | null } }) => req.principal!.userId!;

  r.patch('/api/v1/me', {
    config: { access: SIGNED_IN },
    schema: { tags: ['account'], summary: 'Change the display name', body: z.object({ displayName: z.string().trim().max(100) }), response: { 200: userSchema } },
  }, async (req) => {
    const u = await updateProfile(deps.db, uid(req), req.body.displayName, actorOf(req));
    req.audited = true;
    return { id: u.id, email: u.email, displayName: u.displayName, role: u.role, status: u.status, createdAt: u.createdAt, passwordChangedAt: u.passwordChangedAt };
  });

  r.post('/api/v1/me/password', {
    config: { access: SIGNED_IN },
    schema: {
      tags: ['account'], summary: 'Change the password; every sign-in of the account ends (sign in again)',
      description: 'The new password: at least 12 characters, not on the common-password list, not containing the e-mail\'s name. 400 names `currentPassword` or `newPassword`.',
      body: z.object({ currentPassword: z.string().max(1024), newPassword: z.string().max(1024) }), response: { 204: z.null(), 400: problemSchema },
    },
  }, async (req, reply) => {
    await changePassword(deps, uid(req), req.body.currentPassword, req.body.newPassword, actorOf(req));
    req.audited = true;
    return reply.code(204).send(null);
  });

  r.get('/api/v1/me/sessions', {
    config: { access: SIGNED_IN },
    schema: { tags: ['account'], summary: 'The account\'s live sign-ins (API refresh families and web sessions)', response: { 200: z.object({ sessions: z.array(sessionSchema) }) } },
  }, async (req) => ({ sessions: await listSessions(deps.db, uid(req), req.principal!.sessionId) }));

  r.post('/api/v1/me/sessions/revoke-all', {
    config: { access: SIGNED_IN },
    schema: { tags: ['account'], summary: 'Sign out everywhere: end every sign-in of the account, this one included', response: { 200: z.object({ ended: z.number() }) } },
  }, async (req) => {
    const ended = await signOutEverywhere(deps, uid(req), actorOf(req));
    req.audited = true;
    return { ended };
  });

  r.delete('/api/v1/me/sessions/:id', {
    config: { access: OWN },
    schema: { tags: ['account'], summary: 'End one of the account\'s sign-ins', params: z.object({ id: z.string().max(64) }), response: { 204: z.null(), 404: problemSchema } },
  }, async (req, reply) => {
    if (!await endOwnSession(deps, uid(req), req.params.id, actorOf(req))) throw new HttpProblem(404, `no session ${req.params.id} of yours`);
    req.audited = true;
    return reply.code(204).send(null);
  });

  r.get('/api/v1/me/keys', {
    config: { access: SIGNED_IN },
    schema: { tags: ['account'], summary: 'The account\'s personal API keys (never their tokens)', response: { 200: z.object({ keys: z.array(keySchema) }) } },
  }, async (req) => ({ keys: (await listApiKeys(deps.db, uid(req))).map(toKeyJson) }));

  r.post('/api/v1/me/keys', {
    config: { access: SIGNED_IN },
    schema: {
      tags: ['account'], summary: 'Create a personal API key (for scripts); its token is in this answer only',
      description: `Scopes within the role's: ${Object.entries(SCOPES).map(([s, d]) => `\`${s}\` (${d})`).join(', ')}. Default \`me:read\`. 400 names \`scopes\` or \`expiresAt\`.`,
      body: z.object({ name: z.string().trim().max(100).optional(), scopes: distinctItems(z.array(z.string().max(40)).max(20)).optional(), expiresAt: isoInstant.optional() }),
      response: { 201: z.object({ key: keySchema, token: z.string().describe('gp_…: send as Authorization: Bearer; shown once') }), 400: problemSchema },
    },
  }, async (req, reply) => {
    const p = req.principal!;
    const created = await deps.db.transaction(async (tx) => {
      const c = await createApiKey(tx, { kind: 'personal', scopes: req.body.scopes, name: req.body.name, expiresAt: req.body.expiresAt ? new Date(req.body.expiresAt) : undefined, owner: { id: uid(req), role: p.role as UserRole } });
      await auditRequest(tx, req, { action: 'keys.create', outcome: 'success', objectType: 'api_key', objectId: c.key.id, detail: { kind: 'personal', scopes: c.key.scopes } });
      return c;
    });
    return reply.code(201).send({ key: toKeyJson(created.key), token: created.token });
  });

  r.delete('/api/v1/me/keys/:id', {
    config: { access: OWN },
    schema: { tags: ['account'], summary: 'Revoke one of the account\'s personal keys', params: z.object({ id: z.string().max(64) }), response: { 204: z.null(), 404: problemSchema } },
  }, async (req, reply) => {
    const ok = await deps.db.transaction(async (tx) => {
      const done = await revokeApiKey(tx, req.params.id, uid(req));
      if (done) await auditRequest(tx, req, { action: 'keys.revoke', outcome: 'success', objectType: 'api_key', objectId: req.params.id });
      return done;
    });
    if (!ok) throw new HttpProblem(404, `no active key ${req.params.id} of yours`);
    await forgetApiKeyStates([req.params.id]); // committed now: drop any state read while the transaction ran
    return reply.code(204).send(null);
  });

  r.post('/api/v1/auth/invitations/accept', {
    config: { access: { public: true } },
    schema: {
      tags: ['auth'], summary: 'Use an invitation or one-time sign-in link: create the account (or set its password)',
      description: 'The link is single-use and expires (invitations 7 days, sign-in links 1 day). Then sign in with POST /api/v1/auth/login. 400 names `token` or `password`.',
      body: z.object({ token: z.string().max(200), password: z.string().max(1024), displayName: z.string().trim().max(100).optional() }),
      response: { 201: userSchema, 400: problemSchema },
    },
  }, async (req, reply) => {
    const u = await acceptInvitation(deps.db, req.body.token, { password: req.body.password, displayName: req.body.displayName }, actorOf(req));
    req.audited = true;
    return reply.code(201).send({ id: u.id, email: u.email, displayName: u.displayName, role: u.role, status: u.status, createdAt: u.createdAt, passwordChangedAt: u.passwordChangedAt });
  });
}
