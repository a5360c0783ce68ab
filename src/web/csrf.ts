import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { HttpProblem } from '../platform/problem.ts';

/**
 * Cross-site request forgery defence for the site's form posts (OWASP's double-submit cookie, plus an
 * Origin check): every page sets a random token in an HttpOnly, SameSite=Strict cookie and renders the same
 * token into each form's hidden `csrf` field. Another site can make a browser post a form here, but it can
 * neither read the cookie nor the page, so it cannot send the matching field.
 */
export const CSRF_COOKIE = 'gp_csrf';
export const CSRF_FIELD = 'csrf';
const TOKEN = /^[A-Za-z0-9_-]{43}$/; // 32 random bytes, base64url

/** The visitor's token from the Cookie header, or undefined when absent or not one of ours. */
export function csrfTokenOf(cookieHeader: string | undefined): string | undefined {
  for (const part of (cookieHeader ?? '').split(/;\s*/)) {
    if (part.startsWith(`${CSRF_COOKIE}=`)) {
      const value = part.slice(CSRF_COOKIE.length + 1);
      if (TOKEN.test(value)) return value;
    }
  }
  return undefined;
}

export const newCsrfToken = (): string => randomBytes(32).toString('base64url');

/** The Set-Cookie value that stores a token (a year: the token guards nothing but this visitor's form posts). */
export const csrfCookie = (token: string): string => `${CSRF_COOKIE}=${token}; Path=/; Max-Age=31536000; HttpOnly; SameSite=Strict`;

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
 * the visitor's cookie. Non-browser clients send no Origin; they still need the token pair.
 */
export function checkFormPost(req: FastifyRequest, form: URLSearchParams): void {
  const origin = req.headers.origin;
  if (origin !== undefined) {
    if (!sameSite(origin, req.headers.host)) throw new HttpProblem(403, `origin: form posts are accepted only from this site, not from ${origin}`, 'origin');
  } else {
    const site = req.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin' && site !== 'none') throw new HttpProblem(403, `origin: form posts are accepted only from this site (Sec-Fetch-Site: ${String(site)})`, 'origin');
  }
  const expected = csrfTokenOf(req.headers.cookie);
  const sent = Buffer.from(form.get(CSRF_FIELD) ?? '');
  if (!expected || sent.length !== expected.length || !timingSafeEqual(sent, Buffer.from(expected))) {
    throw new HttpProblem(403, 'csrf: the form\'s token is missing or does not match this browser\'s cookie; reload the page and send it again', CSRF_FIELD);
  }
}
