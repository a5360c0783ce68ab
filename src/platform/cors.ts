import type { FastifyInstance, RouteOptions } from 'fastify';
import fastifyCors, { type FastifyCorsOptions } from '@fastify/cors';
import type { RouteIndex } from './route-index.ts';
import { needsCredentials } from '../auth/access.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** @fastify/cors's route-level policy (set for every route by `corsConfigFor`). */
    cors?: FastifyCorsOptions | false;
  }
}

/**
 * Browsers on any origin may read the public API: the GET (and HEAD) routes under /api/v1/ (and /.well-known/) that need no key.
 * No credentials are ever allowed, and keyed routes (the data API), state-changing routes (the data API's
 * POST, the site's form posts) and the operators' /metrics send no CORS headers and refuse preflights.
 */
export function isCrossOriginReadable(route: RouteOptions): boolean {
  const methods = ([] as string[]).concat(route.method);
  const keyed = needsCredentials(route.config?.access);
  return (route.url.startsWith('/api/v1/') || route.url.startsWith('/.well-known/')) && methods.every((m) => m === 'GET' || m === 'HEAD') && !keyed;
}

/**
 * Response headers a cross-origin script may read beyond the CORS-safelisted ones: the rate-limit state
 * (src/auth/rate-limits.ts) and a 429's Retry-After, so a browser client can pace itself.
 */
export const EXPOSED_HEADERS = ['Retry-After', 'RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset'] as const;

const PUBLIC: FastifyCorsOptions = { origin: '*', credentials: false, methods: ['GET', 'HEAD'], exposedHeaders: [...EXPOSED_HEADERS], maxAge: 86_400, strictPreflight: false };
const NONE: FastifyCorsOptions = { origin: false };

/**
 * @fastify/cors configured per route: each route's own config says `*` or nothing (set as routes are added,
 * see `corsConfigFor`), and a preflight (OPTIONS, which lands on the plugin's catch-all) is judged by the
 * route it asks about (`Access-Control-Request-Method` on the same path), found in the route index.
 */
export async function registerCors(app: FastifyInstance, index: RouteIndex): Promise<void> {
  await app.register(fastifyCors, {
    hideOptionsRoute: true,
    delegator: (req, done) => {
      if (req.method !== 'OPTIONS') return done(null, NONE);
      const asked = String(req.headers['access-control-request-method'] ?? 'GET').toUpperCase();
      done(null, index.find(asked, req.url)?.crossOrigin ? PUBLIC : NONE);
    },
  });
}

/** The route-level `config.cors` for a route: the public policy, or none at all. */
export const corsConfigFor = (route: RouteOptions): FastifyCorsOptions | false => (isCrossOriginReadable(route) ? PUBLIC : false);
