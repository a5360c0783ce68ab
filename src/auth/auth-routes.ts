import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { HttpProblem, problemBody } from '../platform/problem.ts';
import { actorOf } from './audit.ts';
import { USER_ROLES } from './principal.ts';
import { ACCESS_TOKEN_SECONDS } from './access-token.ts';
import { JWKS_MAX_AGE_SECONDS } from './signing-keys.ts';
import { login, logout, refresh, SESSION_ABSOLUTE_SECONDS, type AuthDeps, type Tokens } from './sessions.ts';
import { findUser, toUser } from './users.ts';
import { isSameSite, SESSION_COOKIE } from './access-hook.ts';

export const problemSchema = z.object({ type: z.string(), title: z.string(), status: z.number(), detail: z.string(), field: z.string().optional() });

const tokens = z.object({
  accessToken: z.string().describe('JWT (RFC 9068 at+jwt), signed EdDSA (or ES256), valid 1 hour: header kid; claims iss, aud, sub (user id), role, sid (session), sv, iat, nbf, exp, jti'),
  tokenType: z.literal('Bearer'),
  expiresIn: z.number().describe(`seconds the access token is valid (${ACCESS_TOKEN_SECONDS})`),
  refreshToken: z.string().describe('opaque, single use: POST it to /api/v1/auth/refresh for a new pair; a used one presented again revokes the sign-in'),
});

export const userSchema = z.object({
  id: z.string(), email: z.string(), displayName: z.string(), role: z.enum(USER_ROLES), status: z.enum(['active', 'disabled']),
  createdAt: z.string(), passwordChangedAt: z.string().nullable(),
});

/** Sends a 401/429 problem from the sign-in services, with WWW-Authenticate or Retry-After. */
export function authProblem(reply: FastifyReply, status: 401 | 429, detail: string, field: string, retryAfter?: number) {
  if (status === 401) reply.header('WWW-Authenticate', 'Bearer realm="gridpulse", error="invalid_token"');
  if (retryAfter !== undefined) reply.header('Retry-After', String(retryAfter));
  return reply.code(status).type('application/problem+json').send(problemBody(status, detail, field));
}

const apiTokens = (t: Tokens) => ({ accessToken: t.accessToken, tokenType: t.tokenType, expiresIn: t.expiresIn, refreshToken: t.refreshToken! });

/** The session cookie's Set-Cookie: HttpOnly, SameSite=Lax, Secure when the request came over HTTPS, for the session's absolute lifetime. */
export function sessionCookie(req: FastifyRequest, value: string, maxAge = SESSION_ABSOLUTE_SECONDS): string {
  return `${SESSION_COOKIE}=${value}; Path=/; Max-Age=${maxAge}; HttpOnly; SameSite=Lax${req.protocol === 'https' ? '; Secure' : ''}`;
}

/** POST /api/v1/auth/login|refresh|logout, GET /api/v1/me, GET /.well-known/jwks.json. */
export function authRoutes(app: FastifyInstance, deps: AuthDeps): void {
  const r = app.withTypeProvider<ZodTypeProvider>();

  r.get('/.well-known/jwks.json', {
    config: { access: { public: true } },
    schema: {
      tags: ['auth'], summary: 'Public keys that verify GridPulse access tokens (JWK Set, RFC 7517)',
      description: 'The signing key, the next one (published 6 minutes before it signs: longer than this answer\'s max-age of 300 s, so a cached set always holds the key of a new token) and, for two hours after they retire, the retired ones.',
      response: { 200: z.object({ keys: z.array(z.record(z.string(), z.unknown())) }) },
    },
  }, async (_req, reply) => { reply.header('cache-control', `public, max-age=${JWKS_MAX_AGE_SECONDS}`); return deps.ring.jwks(); });

  r.post('/api/v1/auth/login', {
    config: { access: { public: true } },
    schema: {
      tags: ['auth'], summary: 'Sign in with e-mail and password: an access token (1 h) and a refresh token',
      description: 'Wrong e-mail or password → 401 (the same answer whether or not the account exists). Repeated failures per account '
        + 'or per IP are slowed (from the 3rd failure, 2^(n-3) s between attempts, at most 60 s) and locked (10 per account, 50 per IP, '
        + 'for 15 minutes): 429 with Retry-After. Every attempt is audited.',
      body: z.object({ email: z.string().max(254), password: z.string().max(1024) }),
      response: { 200: tokens, 401: problemSchema, 429: problemSchema },
    },
  }, async (req, reply) => {
    const result = await login(deps, { email: req.body.email, password: req.body.password, kind: 'api', userAgent: req.headers['user-agent'] ?? null }, actorOf(req));
    req.audited = true;
    if (!result.ok) return authProblem(reply, result.status, result.detail, result.status === 429 ? 'email' : 'password', result.retryAfter);
    reply.header('cache-control', 'no-store');
    return apiTokens(result.tokens);
  });

  r.post('/api/v1/auth/session', {
    config: { access: { public: true } },
    schema: {
      tags: ['auth'], summary: 'Sign a browser in: the session cookie (gp_session: HttpOnly, SameSite=Lax, Secure over HTTPS)',
      description: 'For the web site (its sign-in form posts here through the page). Only from this site: a request whose Origin (or Sec-Fetch-Site) '
        + 'names another site is refused with 403 (login CSRF). Errors and throttling as POST /api/v1/auth/login. State-changing API calls signed in '
        + 'by this cookie must send X-CSRF-Token with the session\'s anti-forgery token (the `csrf` field of the site\'s pages).',
      body: z.object({ email: z.string().max(254), password: z.string().max(1024) }),
      response: { 204: z.null(), 401: problemSchema, 403: problemSchema, 429: problemSchema },
    },
  }, async (req, reply) => {
    if (!isSameSite(req)) throw new HttpProblem(403, 'origin: browsers sign in only from this site', 'origin');
    const result = await login(deps, { email: req.body.email, password: req.body.password, kind: 'web', userAgent: req.headers['user-agent'] ?? null }, actorOf(req));
    req.audited = true;
    if (!result.ok) return authProblem(reply, result.status, result.detail, result.status === 429 ? 'email' : 'password', result.retryAfter);
    return reply.code(204).header('cache-control', 'no-store').header('set-cookie', sessionCookie(req, result.tokens.webSession!)).send(null);
  });

  r.post('/api/v1/auth/refresh', {
    config: { access: { public: true } },
    schema: {
      tags: ['auth'], summary: 'Exchange a refresh token for a new access token and refresh token (rotation)',
      description: `Each refresh token works once. Presenting a used one again revokes the whole sign-in (its refresh tokens and access tokens), `
        + `as a stolen token would (OWASP ASVS 5.0 V10.4.5). A sign-in lasts at most ${SESSION_ABSOLUTE_SECONDS / 86400} days however often it is refreshed. 401 otherwise.`,
      body: z.object({ refreshToken: z.string().max(200) }),
      response: { 200: tokens, 401: problemSchema },
    },
  }, async (req, reply) => {
    const result = await refresh(deps, req.body.refreshToken, actorOf(req));
    req.audited = true;
    if (!result.ok) return authProblem(reply, 401, result.detail, 'refreshToken');
    reply.header('cache-control', 'no-store');
    return apiTokens(result.tokens);
  });

  r.post('/api/v1/auth/logout', {
    config: { access: { roles: USER_ROLES } },
    schema: {
      tags: ['auth'], summary: 'Sign out: end this sign-in (its refresh tokens and access tokens stop working at once)',
      response: { 204: z.null() },
    },
  }, async (req, reply) => {
    const sid = req.principal?.sessionId;
    if (!sid) throw new HttpProblem(400, 'authorization: only a signed-in user\'s session can be signed out', 'authorization');
    await logout(deps, sid, actorOf(req));
    req.audited = true;
    if (req.headers.cookie?.includes(`${SESSION_COOKIE}=`)) reply.header('set-cookie', sessionCookie(req, '', 0));
    return reply.code(204).send(null);
  });

  r.get('/api/v1/me', {
    config: { access: { roles: USER_ROLES, scopes: ['me:read'] } },
    schema: {
      tags: ['auth'], summary: 'The signed-in user (or a personal key\'s owner)',
      response: { 200: userSchema.extend({ scopes: z.array(z.string()), sessionId: z.string().nullable(), via: z.enum(['user', 'key']) }) },
    },
  }, async (req) => {
    const p = req.principal!;
    const row = await findUser(deps.db, p.userId!);
    if (!row) throw new HttpProblem(404, 'no such user');
    const u = toUser(row);
    return { id: u.id, email: u.email, displayName: u.displayName, role: u.role, status: u.status, createdAt: u.createdAt, passwordChangedAt: u.passwordChangedAt, scopes: [...p.scopes], sessionId: p.sessionId ?? null, via: p.kind };
  });
}
