import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { HttpProblem } from '../platform/problem.ts';
import { sessionCookieOf } from '../auth/access-hook.ts';
import { parseWebSession } from '../auth/sessions.ts';

/**
 * Cross-site request forgery defence for the site's form posts and its cookie-authenticated API calls (OWASP's
 * synchronizer token bound to the session, plus an Origin check):
 * - a signed-in browser's token is HMAC-SHA256 keyed by its session cookie's secret (sessionCsrfToken): only the
 *   server and that browser can make it, and it changes with the session, so a token taken from another browser
 *   (an anonymous one's, or another session's) is refused;
 * - an anonymous browser's token is the random value of its gp_csrf cookie (double-submit): HttpOnly,
 *   SameSite=Strict, and over HTTPS Secure with the `__Host-` prefix (host-only, so a sibling subdomain cannot
 *   plant one). It guards the forms a visitor posts before signing in (sign-in, invitations).
 * Pages render the token into each form's hidden `csrf` field (csrfTokenFor). Another site can make a browser post
 * a form here, but it can neither read the cookies nor the page, so it cannot send the matching field.
 */
export const CSRF_COOKIE = 'gp_csrf';
/** The anonymous token's cookie over HTTPS (Secure, host-only). */
export const CSRF_COOKIE_SECURE = '__Host-gp_csrf';
export const CSRF_FIELD = 'csrf';
const TOKEN = /^[A-Za-z0-9_-]{43}$/; // 32 random bytes, base64url

const cookieName = (secure: boolean) => (secure ? CSRF_COOKIE_SECURE : CSRF_COOKIE);

/** The anonymous visitor's token from the Cookie header (the `__Host-` cookie over HTTPS), or undefined when absent or not one of ours. */
export function csrfNonceOf(cookieHeader: string | undefined, secure: boolean): string | undefined {
  const name = cookieName(secure);
  for (const part of (cookieHeader ?? '').split(/;\s*/)) {
    if (part.startsWith(`${name}=`)) {
      const value = part.slice(name.length + 1);
      if (TOKEN.test(value)) return value;
    }
  }
  return undefined;
}

export const newCsrfToken = (): string => randomBytes(32).toString('base64url');

/** The Set-Cookie value that stores an anonymous token (a year), with the session cookie's Secure rule: Secure and `__Host-` over HTTPS. */
export const csrfCookie = (token: string, secure: boolean): string =>
  `${cookieName(secure)}=${token}; Path=/; Max-Age=31536000; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;

/** A signed-in web session's anti-forgery token: HMAC-SHA256(key: the session cookie's secret, "gridpulse csrf v1"), base64url (43 characters). */
export const sessionCsrfToken = (sessionSecret: string): string => createHmac('sha256', sessionSecret).update('gridpulse csrf v1').digest('base64url');

/**
 * The token this request's forms and cookie-authenticated calls must carry: the session's (sessionCsrfToken) when the
 * request is signed in by its gp_session cookie (the access hook has verified it: req.principal holds its session),
 * else the anonymous cookie's value; undefined when neither exists yet.
 */
export function csrfTokenFor(req: FastifyRequest): string | undefined {
  const cookie = req.headers.authorization === undefined ? sessionCookieOf(req.headers.cookie) : undefined;
  const session = cookie === undefined ? undefined : parseWebSession(cookie);
  if (session && req.principal?.kind === 'user' && req.principal.sessionId === session.sessionId) return sessionCsrfToken(session.secret);
  return csrfNonceOf(req.headers.cookie, req.protocol === 'https');
}

/** Whether an Origin names this host (compared as URLs, so a default port written out, Host: example.org:443, still matches). */
function sameSite(origin: string, host: string | undefined): boolean {
  try {
    const from = new URL(origin);
    return from.host === new URL(`${from.protocol}//${host ?? ''}`).host;
  } catch {
    return false;
  }
}

/**
 * Refuses (403 problem+json naming `origin` or `csrf`) a form post that a browser sent for another site:
 * an Origin (or, without one, Sec-Fetch-Site) that is not this site, or a `csrf` field that does not match
 * the visitor's token (csrfTokenFor: bound to the session when signed in). Non-browser clients send no Origin; they still need the token.
 */
export function checkFormPost(req: FastifyRequest, form: URLSearchParams): void {
  const origin = req.headers.origin;
  if (origin !== undefined) {
    if (!sameSite(origin, req.headers.host)) throw new HttpProblem(403, `origin: form posts are accepted only from this site, not from ${origin}`, 'origin');
  } else {
    const site = req.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin' && site !== 'none') throw new HttpProblem(403, `origin: form posts are accepted only from this site (Sec-Fetch-Site: ${String(site)})`, 'origin');
  }
  const expected = csrfTokenFor(req);
  const sent = Buffer.from(form.get(CSRF_FIELD) ?? '');
  if (!expected || sent.length !== expected.length || !timingSafeEqual(sent, Buffer.from(expected))) {
    throw new HttpProblem(403, 'csrf: the form\'s token is missing or does not match this browser\'s cookie; reload the page and send it again', CSRF_FIELD);
  }
}
