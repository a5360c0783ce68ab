import type { FastifyInstance, HTTPMethods, InjectOptions, RouteOptions } from 'fastify';
import { UNDECLARED, type Access } from '../../src/auth/access.ts';

/** A well-formed id that names no object: routes that look objects up answer 404 for it, never 400. */
export const NO_ID = '00000000-0000-4000-8000-000000000000';

/** One callable (method, path pattern) of the app, with the access it declares. */
export interface WalkedRoute {
  method: HTTPMethods;
  /** The Fastify pattern, e.g. `/api/v1/me/views/:id`. */
  url: string;
  /** `config.access` of the route; UNDECLARED when it has none (test/auth/contract.test.ts fails those). */
  access: Access;
}

/**
 * Every (method, route) in the app's own route table (`app.routeTable`, kept by `trackRoutes` in
 * src/auth/access.ts), one entry per method. HEAD and OPTIONS are left out: Fastify adds them to GET routes
 * and the CORS plugin answers OPTIONS, so they carry no access rule of their own.
 * Call after `app.ready()` (openTestApp returns a ready app) so that every plugin's routes are listed.
 */
export function walkRoutes(app: FastifyInstance): WalkedRoute[] {
  return app.routeTable.flatMap((r: RouteOptions) => ([] as HTTPMethods[]).concat(r.method)
    .filter((m) => m !== 'HEAD' && m !== 'OPTIONS')
    .map((method) => ({ method, url: r.url, access: (r.config?.access ?? UNDECLARED) as Access })));
}

/**
 * A concrete path for a route pattern: every parameter (`:id` as Fastify writes it, `{id}` as the OpenAPI
 * document does) becomes `id`, URL-encoded (NO_ID by default), and a wildcard `*` becomes `x`.
 */
export function fillPath(pattern: string, id: string = NO_ID): string {
  const value = encodeURIComponent(id);
  return pattern.replace(/:\w+|\{[^}]+\}/g, () => value).replace('*', 'x');
}

/**
 * The `app.inject` options to call a route on `path` (fillPath of its pattern by default): methods that take
 * a body get `payload` (an empty object unless given), GET and DELETE none.
 */
export function routeCall(route: Pick<WalkedRoute, 'method' | 'url'>, options: { path?: string; headers?: Record<string, string>; payload?: object } = {}): InjectOptions {
  const takesBody = route.method !== 'GET' && route.method !== 'DELETE';
  return {
    method: route.method,
    url: options.path ?? fillPath(route.url),
    ...(options.headers ? { headers: options.headers } : {}),
    ...(takesBody ? { payload: options.payload ?? {} } : {}),
  };
}
