import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { HttpProblem } from '../platform/problem.ts';
import { isoInstant } from '../platform/instant.ts';
import { queryInt } from '../platform/query.ts';
import { toCsv } from '../platform/csv.ts';
import { actorOf, auditRequest } from './audit.ts';
import { USER_ROLES } from './principal.ts';
import { updateUser } from './account.ts';
import { createInvitation, invitationPath, listInvitations, revokeInvitation } from './invitations.ts';
import { listUsers } from './users.ts';
import { queryAudit } from './audit-query.ts';
import { problemSchema, userSchema } from './auth-routes.ts';
import type { AuthDeps } from './sessions.ts';

const ADMIN = { roles: ['admin'] } as const;

const invitationSchema = z.object({
  id: z.string(), email: z.string(), role: z.enum(USER_ROLES), forUser: z.boolean().describe('a one-time sign-in link for an existing user'),
  createdAt: z.string(), expiresAt: z.string(), usedAt: z.string().nullable(), revokedAt: z.string().nullable(),
});

const auditRecord = z.object({
  id: z.number(), at: z.string(), actorKind: z.string(), actorId: z.string().nullable(), userId: z.string().nullable(), role: z.string().nullable(),
  action: z.string(), objectType: z.string().nullable(), objectId: z.string().nullable(), outcome: z.string(), ip: z.string().nullable(),
  requestId: z.string().nullable(), detail: z.unknown(),
});

const AUDIT_COLUMNS = ['id', 'at', 'actorKind', 'actorId', 'userId', 'role', 'action', 'objectType', 'objectId', 'outcome', 'ip', 'requestId', 'detail'] as const;

/** Administration: users (role, status), invitations, and the audit log. Admins only. */
export function adminRoutes(app: FastifyInstance, deps: AuthDeps): void {
  const r = app.withTypeProvider<ZodTypeProvider>();

  r.get('/api/v1/admin/users', {
    config: { access: ADMIN },
    schema: { tags: ['admin'], summary: 'Every account', response: { 200: z.object({ users: z.array(userSchema) }) } },
  }, async () => ({ users: (await listUsers(deps.db)).map((u) => ({ id: u.id, email: u.email, displayName: u.displayName, role: u.role, status: u.status, createdAt: u.createdAt, passwordChangedAt: u.passwordChangedAt })) }));

  r.patch('/api/v1/admin/users/:id', {
    config: { access: ADMIN },
    schema: {
      tags: ['admin'], summary: 'Change a user\'s role or status; disabling or a new role ends their sign-ins at once',
      params: z.object({ id: z.string().max(64) }),
      body: z.object({ role: z.enum(USER_ROLES).optional(), status: z.enum(['active', 'disabled']).optional() }).refine((b) => b.role || b.status, 'give role or status'),
      response: { 200: userSchema, 404: problemSchema, 409: problemSchema },
    },
  }, async (req) => {
    const u = await updateUser(deps, req.params.id, req.body, actorOf(req));
    req.audited = true;
    return { id: u.id, email: u.email, displayName: u.displayName, role: u.role, status: u.status, createdAt: u.createdAt, passwordChangedAt: u.passwordChangedAt };
  });

  r.get('/api/v1/admin/invitations', {
    config: { access: ADMIN },
    schema: { tags: ['admin'], summary: 'Invitations and sign-in links, newest first (never their tokens)', response: { 200: z.object({ invitations: z.array(invitationSchema) }) } },
  }, async () => ({ invitations: await listInvitations(deps.db) }));

  r.post('/api/v1/admin/invitations', {
    config: { access: ADMIN },
    schema: {
      tags: ['admin'], summary: 'Invite someone: a single-use link, valid 7 days, that creates an account with this e-mail and role',
      description: 'The answer holds the link (path /invite/<token>): the only time it exists; send it to the person. 409 when the e-mail has an account.',
      body: z.object({ email: z.string().max(254), role: z.enum(USER_ROLES) }),
      response: { 201: z.object({ invitation: invitationSchema, token: z.string(), path: z.string() }), 400: problemSchema, 409: problemSchema },
    },
  }, async (req, reply) => {
    const made = await deps.db.transaction(async (tx) => {
      const m = await createInvitation(tx, { email: req.body.email, role: req.body.role, createdBy: req.principal!.userId });
      await auditRequest(tx, req, { action: 'invitations.create', outcome: 'success', objectType: 'invitation', objectId: m.invitation.id, detail: { email: m.invitation.email, role: m.invitation.role } });
      return m;
    });
    return reply.code(201).send({ ...made, path: invitationPath(made.token) });
  });

  r.delete('/api/v1/admin/invitations/:id', {
    config: { access: ADMIN },
    schema: { tags: ['admin'], summary: 'Revoke an unused invitation', params: z.object({ id: z.string().max(64) }), response: { 204: z.null(), 404: problemSchema } },
  }, async (req, reply) => {
    const ok = await deps.db.transaction(async (tx) => {
      const done = await revokeInvitation(tx, req.params.id);
      if (done) await auditRequest(tx, req, { action: 'invitations.revoke', outcome: 'success', objectType: 'invitation', objectId: req.params.id });
      return done;
    });
    if (!ok) throw new HttpProblem(404, `no unused invitation ${req.params.id}`);
    return reply.code(204).send(null);
  });

  r.get('/api/v1/admin/audit', {
    config: { access: { roles: ['admin'], scopes: ['audit:read'] } },
    schema: {
      tags: ['admin'], summary: 'The audit log, newest first (JSON, or CSV with format=csv)',
      description: 'Every authentication event and state-changing call: who (actor kind and id, user, role), what (action, object), when, '
        + 'from where (IP), outcome and request id. `from` inclusive, `to` exclusive; `user` an id or e-mail; `action` exact, or a prefix ending '
        + 'in `.` or `*` (`auth.`); `before` an id, for the next page; `limit` ≤ 5000 (default 500).',
      querystring: z.object({
        from: isoInstant.optional(), to: isoInstant.optional(), user: z.string().max(254).optional(), action: z.string().max(80).optional(),
        before: queryInt(1).optional(), limit: queryInt(1, 5000).optional(), format: z.enum(['json', 'csv']).optional(),
      }),
      response: { 200: z.object({ records: z.array(auditRecord) }) },
    },
  }, async (req, reply) => {
    const q = req.query;
    const records = await queryAudit(deps.db, { from: q.from, to: q.to, user: q.user, action: q.action, before: q.before, limit: q.limit ?? 500 });
    if (q.format === 'csv') {
      const rows = records.map((rec) => AUDIT_COLUMNS.map((c) => (c === 'detail' ? (rec.detail === null ? '' : JSON.stringify(rec.detail)) : rec[c] ?? '')));
      return reply.type('text/csv; charset=utf-8').header('content-disposition', 'attachment; filename="gridpulse-audit.csv"')
        .serializer((x: unknown) => x as string).send(toCsv(AUDIT_COLUMNS, rows) as never);
    }
    return { records };
  });
}
