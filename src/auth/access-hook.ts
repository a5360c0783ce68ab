import type { Logger } from 'pino';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { LRUCache } from 'lru-cache';
import { timingSafeEqual } from 'node:crypto';
import { problemBody } from '../platform/problem.ts';
import { sessionCsrfToken } from '../web/csrf.ts';
import { judge, UNDECLARED, type Access } from './access.ts';
import { TokenRefused, verifyAccessToken, type AccessClaims } from './access-token.ts';
import { clientPrincipal, isClientToken } from './client-credentials.ts';
import { ApiKeyVerifier, isApiKeyToken, type VerifiedKey } from './api-keys.ts';
import { actorOf, audit, routeObject } from './audit.ts';
import { ROLE_SCOPES } from './scopes.ts';
import { parseWebSession, sessionState, sha256, type AuthDeps } from './sessions.ts';
import type { Principal } from './principal.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The API key of a key principal (worker, device or personal). */
    apiKey?: VerifiedKey;
  }
}

/** The web site's session cookie: 'gps_<session id>_<secret>', HttpOnly, SameSite=Lax, Secure over HTTPS. */
export const SESSION_COOKIE = 'gp_session';
/** Header carrying the anti-forgery token (the session's, src/web/csrf.ts sessionCsrfToken) on cookie-authenticated API calls. */
export const CSRF_HEADER = 'x-csrf-token';

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

class Refusal extends Error {
  readonly status: 401 | 403;
  readonly reason: string;
  readonly field: string;
  constructor(status: 401 | 403, reason: string, field = 'authorization') {
    super(reason);
    this.status = status;
    this.reason = reason;
    this.field = field;
  }
}

export function sessionCookieOf(cookieHeader: string | undefined): string | undefined {
  for (const part of (cookieHeader ?? '').split(/;\s*/)) if (part.startsWith(`${SESSION_COOKIE}=`)) return part.slice(SESSION_COOKIE.length + 1);
  return undefined;
}

/** Whether a browser request comes from this site: Origin names this host, or (without Origin) Sec-Fetch-Site is same-origin or none. */
export function isSameSite(req: FastifyRequest): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) {
    const site = req.headers['sec-fetch-site'];
    return site === undefined || site === 'same-origin' || site === 'none';
  }
  try {
    const from = new URL(origin);
    return from.host === new URL(`${from.protocol}//${req.headers.host ?? ''}`).host;
  } catch {
    return false;
  }
}

/**
 * Resolves the principal of every request and enforces each route's declared access (src/auth/access.ts),
 * in one onRequest hook:
 * - `Authorization: Bearer gp_…` is an API key; a JWT with a client_id claim is an OpenADR client's token
 *   (client-credentials.ts); any other bearer is an access JWT (access-token.ts), whose
 *   session must still be live and whose session version must be the user's current one (so logout,
 *   password change, disable and "sign out everywhere" take effect at the next request);
 * - without Authorization, the site's gp_session cookie; a state-changing call authenticated by the cookie
 *   must come from this site (Origin / Sec-Fetch-Site) and carry the session's anti-forgery token (the site's forms
 *   post a `csrf` field, checked by the page route; API calls send X-CSRF-Token);
 * - public routes serve anyone (bad credentials there are ignored: the caller is anonymous); other routes
 *   answer 401 (no or bad credentials, WWW-Authenticate: Bearer) or 403 (the principal may not) as
 *   problem+json, each refusal written to the audit log;
 * - every answer of a route that is not public carries `Cache-Control: no-store` (set in onSend, whatever the handler set).
 */
export function registerAccessHook(app: FastifyInstance, deps: AuthDeps): void {
  // Verified signatures, by token text: a token's signature does not change, and its expiry is rechecked
  // on every use, so repeat requests skip the Ed25519/P-256 verification (measured in bench/auth.ts).
  const verified = new LRUCache<string, AccessClaims>({ max: 10_000 });
  const now = deps.now ?? Date.now;
  const keys = new ApiKeyVerifier(deps.db, deps.cache, now);
  app.addHook('onClose', async () => { keys.close(); });

  async function fromJwt(token: string): Promise<Principal> {
    let claims = verified.get(token);
    if (!claims || claims.exp * 1000 + 30_000 <= now()) {
      try {
        claims = await verifyAccessToken(deps.ring, deps.settings, token, now());
      } catch (err) {
        if (err instanceof TokenRefused) throw new Refusal(401, err.reason);
        throw err;
      }
      verified.set(token, claims);
    }
    const state = await sessionState(deps, claims.sid);
    if (!state || state.userId !== claims.sub) throw new Refusal(401, 'the token\'s session does not exist');
    if (state.revoked) throw new Refusal(401, 'the token\'s session was ended (signed out)');
    if (state.status !== 'active') throw new Refusal(401, 'the account is disabled');
    if (state.sessionVersion !== claims.sv) throw new Refusal(401, 'the token predates a password change or "sign out everywhere"');
    if (state.expiresAt <= now()) throw new Refusal(401, 'the session has reached its absolute lifetime');
    return { kind: 'user', id: state.userId, userId: state.userId, role: state.role, scopes: ROLE_SCOPES[state.role], sessionId: state.sessionId };
  }

  async function fromClient(token: string): Promise<Principal> {
    try {
      return await clientPrincipal(deps, token);
    } catch (err) {
      if (err instanceof TokenRefused) throw new Refusal(401, err.reason);
      throw err;
    }
  }

  async function fromKey(req: FastifyRequest, token: string): Promise<Principal> {
    const key = await keys.verify(token, req.ip);
    if (!key) throw new Refusal(401, 'unknown, revoked or expired API key');
    req.apiKey = key;
    const role = key.kind === 'personal' ? key.ownerRole! : key.kind;
    return { kind: 'key', id: key.id, userId: key.ownerId, role, scopes: key.scopes };
  }

  async function fromCookie(req: FastifyRequest, value: string): Promise<Principal> {
    const parsed = parseWebSession(value);
    if (!parsed) throw new Refusal(401, 'the session cookie is malformed');
    const state = await sessionState(deps, parsed.sessionId);
    const hash = sha256(parsed.secret);
    if (!state || state.kind !== 'web' || !state.secretHash || state.secretHash.length !== hash.length
      || !timingSafeEqual(Buffer.from(state.secretHash), Buffer.from(hash))) throw new Refusal(401, 'unknown session');
    if (state.revoked) throw new Refusal(401, 'the session was ended (signed out)');
    if (state.status !== 'active') throw new Refusal(401, 'the account is disabled');
    if (state.expiresAt <= now()) throw new Refusal(401, 'the session has expired; sign in again');
    if (UNSAFE.has(req.method)) {
      if (!isSameSite(req)) throw new Refusal(403, 'origin: state-changing calls signed in by cookie are accepted only from this site', 'origin');
      const path = req.url.split('?')[0]!;
      // pages' form posts carry the token in their `csrf` field, checked by the page route (src/web/server.ts)
      if (path.startsWith('/api/')) {
        const expected = sessionCsrfToken(parsed.secret); // bound to this session: another browser's token does not fit
        const sent = String(req.headers[CSRF_HEADER] ?? '');
        if (sent.length !== expected.length || !timingSafeEqual(Buffer.from(sent), Buffer.from(expected))) {
          throw new Refusal(403, `csrf: calls signed in by cookie must send the ${CSRF_HEADER} header with this session's token (the csrf field of the site's pages)`, 'csrf');
        }
      }
    }
    return { kind: 'user', id: state.userId, userId: state.userId, role: state.role, scopes: ROLE_SCOPES[state.role], sessionId: state.sessionId };
  }

  async function resolve(req: FastifyRequest): Promise<Principal | undefined> {
    const header = req.headers.authorization;
    if (header !== undefined) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
      if (!m) throw new Refusal(401, 'Authorization must be "Bearer <access token or API key>"');
      if (isApiKeyToken(m[1]!)) return fromKey(req, m[1]!);
      return isClientToken(m[1]!) ? fromClient(m[1]!) : fromJwt(m[1]!);
    }
    const cookie = sessionCookieOf(req.headers.cookie);
    return cookie === undefined ? undefined : fromCookie(req, cookie);
  }

  async function refuse(req: FastifyRequest, reply: FastifyReply, status: 401 | 403, detail: string, field: string, tokenPresented: boolean) {
    req.audited = true;
    await audit(deps.db, {
      ...actorOf(req), action: status === 401 && tokenPresented ? 'auth.token.invalid' : 'access.denied', outcome: 'denied',
      ...routeObject(req), detail: { reason: detail, status },
    });
    if (status === 401) {
      const error = tokenPresented ? ', error="invalid_token"' : '';
      reply.header('WWW-Authenticate', `Bearer realm="gridpulse"${error}`);
    } else if (field === 'authorization') {
      reply.header('WWW-Authenticate', 'Bearer realm="gridpulse", error="insufficient_scope"');
    }
    return reply.code(status).type('application/problem+json').send(problemBody(status, detail, field));
  }

  /**
   * A refused credential from an address that has spent its sign-in budget (rate-limits.ts): 429 with Retry-After,
   * audited once per address and window (`auth.throttled`), not once per guess.
   */
  async function throttle(req: FastifyRequest, reply: FastifyReply, t: NonNullable<FastifyRequest['credentialsThrottled']>, reason: string) {
    req.audited = true;
    if (t.first) {
      await audit(deps.db, {
        ...actorOf(req), action: 'auth.throttled', outcome: 'denied',
        ...routeObject(req), detail: { reason, status: 429, retryAfter: t.retryAfter },
      });
    }
    reply.header('retry-after', t.retryAfter).header('ratelimit-limit', t.max).header('ratelimit-remaining', 0).header('ratelimit-reset', t.retryAfter);
    return reply.code(429).type('application/problem+json').send(problemBody(429, t.detail, 'authorization'));
  }

  app.addHook('onRequest', async (req, reply) => {
    if (req.is404 || req.method === 'OPTIONS') return;
    const access: Access = req.routeOptions.config?.access ?? UNDECLARED;
    const isPublic = 'public' in access && access.public;
    const presented = req.headers.authorization !== undefined || sessionCookieOf(req.headers.cookie) !== undefined;
    let principal: Principal | undefined;
    try {
      principal = presented ? await resolve(req) : undefined;
    } catch (err) {
      if (!(err instanceof Refusal)) throw err;
      if (isPublic) return; // a public route serves the caller as anonymous
      const throttled = req.credentialsThrottled;
      if (err.status === 401 && throttled) return throttle(req, reply, throttled, err.reason);
      return refuse(req, reply, err.status, err.status === 401 ? `${err.reason}` : err.reason, err.field, req.headers.authorization !== undefined);
    }
    if (principal) {
      req.principal = principal;
      // the request's own child logger gains the principal (cheaper than another child: measured in bench/auth.ts)
      (req.log as unknown as Logger).setBindings({ principal: `${principal.kind}:${principal.id}` });
    }
    const verdict = judge(access, principal);
    if (verdict === 'unauthenticated') {
      return refuse(req, reply, 401, 'sign in first: send Authorization: Bearer <access token or API key>', 'authorization', false);
    }
    if (verdict === 'forbidden') {
      return refuse(req, reply, 403, `${principal!.kind === 'key' ? `this ${principal!.role} key` : `the role ${principal!.role}`} may not ${req.method} ${req.routeOptions.url}`, 'authorization', false);
    }
  });

  // Every state-changing call is audited: handlers that change state write their own record in their
  // transaction (auditRequest); this records the rest (outcome by status) before the answer leaves, so a
  // client that has its answer finds the record.
  // and every answer of a route that is not public (personal data, or a refusal) is kept out of every cache:
  // browsers', proxies' and the site's page cache (which serves public pages only)
  app.addHook('onSend', async (req, reply, payload) => {
    const access = req.routeOptions.config?.access;
    if (!req.is404 && !(access && 'public' in access && access.public)) reply.header('cache-control', 'no-store');
    if (!UNSAFE.has(req.method) || req.audited || req.is404) return payload;
    if (!req.principal && access && 'public' in access && access.public) return payload;
    req.audited = true;
    await audit(deps.db, {
      ...actorOf(req), action: `http.${req.method.toLowerCase()}`, outcome: reply.statusCode < 400 ? 'success' : 'failure',
      objectType: 'route', objectId: `${req.method} ${req.routeOptions.url ?? ''}`, detail: { status: reply.statusCode },
    }).catch((err: unknown) => req.log.error({ err }, 'audit record not written'));
    return payload;
  });
}
