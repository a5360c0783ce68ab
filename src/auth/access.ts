import type { Principal, UserRole } from './principal.ts';
import { ROLE_SCOPES } from './scopes.ts';

/**
 * Who may call a route, declared next to it as `config: { access }`:
 * - `{ public: true }`: anyone, signed in or not.
 * - `{ roles: [...] }`: a signed-in user (access JWT or web session) holding one of the roles.
 * - `{ scopes: [...] }`: an API key holding every listed scope.
 * - both: either way in.
 * A personal key (a key with an owner) is admitted only within its scopes AND what its owner's CURRENT role may
 * do: every scope the route asks for is among the key's scopes and among the role's (ROLE_SCOPES), and, when the
 * route names roles, the owner's role is one of them. A route naming only roles admits no key. The owner's role is
 * read with the key's state, which a role change or disable drops on every copy (sessions.ts publishSessionStates).
 * - `owner: true` (with roles and/or scopes): the route reads or changes objects of the caller
 *   (`req.principal.userId`); the handler looks objects up by id AND owner, and another user's id answers 404.
 * A route with no declaration is refused to everyone but admins (UNDECLARED) and the route-listing test fails.
 */
export type Access =
  | { public: true }
  | { roles: readonly UserRole[]; scopes?: readonly string[]; owner?: boolean }
  | { scopes: readonly string[]; roles?: readonly UserRole[]; owner?: boolean };

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call this route (src/auth/access.ts). */
    access?: Access;
  }
}

/** The safe default for a route that declares nothing: admins only. */
export const UNDECLARED: Access = { roles: ['admin'] };

export const PUBLIC: Access = { public: true };

export type AccessVerdict = 'allow' | 'unauthenticated' | 'forbidden';

/** Whether a principal (undefined: anonymous) may call a route with this access. */
export function judge(access: Access, principal: Principal | undefined): AccessVerdict {
  if ('public' in access && access.public) return 'allow';
  if (!principal) return 'unauthenticated';
  const a = access as { roles?: readonly UserRole[]; scopes?: readonly string[]; owner?: boolean };
  if (a.owner && !principal.userId) return 'forbidden';
  if (principal.kind === 'user' && a.roles?.includes(principal.role as UserRole)) return 'allow';
  if (principal.kind === 'key' && a.scopes?.length && a.scopes.every((s) => principal.scopes.includes(s))) {
    if (principal.userId === null) return 'allow'; // worker and device keys, OpenADR clients: their scopes are all they have
    const role = principal.role as UserRole;
    const roleScopes: readonly string[] = ROLE_SCOPES[role] ?? [];
    if (a.scopes.every((s) => roleScopes.includes(s)) && (!a.roles?.length || a.roles.includes(role))) return 'allow';
  }
  return 'forbidden';
}

/** Whether a route's access declaration needs credentials (for OpenAPI and CORS). */
export const needsCredentials = (access: Access | undefined): boolean => !(access && 'public' in access && access.public);

/**
 * For a scope holding a third-party plugin's routes (@fastify/static's files, swagger-ui's pages), which
 * cannot carry a declaration of their own: every route added in the scope without one is public.
 */
export function publicPluginRoutes(scope: import('fastify').FastifyInstance): void {
  scope.addHook('onRoute', (route) => {
    if (!route.config?.access) route.config = { ...route.config, access: PUBLIC };
  });
}

/** The OpenADR 3.0.1 scopes (client-credentials.ts OPENADR_SCOPES), named here so access stays free of imports. */
const OAUTH_SCOPES: ReadonlySet<string> = new Set(['read_all', 'write_programs', 'write_events', 'write_reports', 'write_subscriptions', 'write_vens']);

/** OpenAPI security requirements of a route's access (names of the schemes createHttp declares). */
export function securityOf(access: Access | undefined): Array<Record<string, string[]>> | undefined {
  if (!needsCredentials(access)) return undefined;
  const a = (access ?? UNDECLARED) as { roles?: readonly string[]; scopes?: readonly string[] };
  const out: Array<Record<string, string[]>> = [];
  if (a.roles?.length) out.push({ accessToken: [] }, { sessionCookie: [] });
  // OpenADR 3 scopes are carried by the VTN's client-credentials tokens (client-credentials.ts), not by API keys
  const oauth = a.scopes?.filter((s) => OAUTH_SCOPES.has(s)) ?? [];
  if (oauth.length) out.push({ oAuth2ClientCredentials: oauth });
  if (a.scopes?.length && oauth.length < a.scopes.length) out.push({ apiKey: a.scopes.filter((s) => !OAUTH_SCOPES.has(s)) });
  return out;
}

/** The access rule of a route, machine-readable (the OpenAPI extension `x-gridpulse-access`). */
export function accessExtension(access: Access | undefined): { public: true } | { roles: string[]; scopes: string[]; owner: boolean } {
  if (!needsCredentials(access)) return { public: true };
  const a = (access ?? UNDECLARED) as { roles?: readonly string[]; scopes?: readonly string[]; owner?: boolean };
  return { roles: [...(a.roles ?? [])], scopes: [...(a.scopes ?? [])], owner: a.owner === true };
}

/** The access rule of a route in one line of prose, for its OpenAPI description. */
export function accessLine(access: Access | undefined): string {
  const x = accessExtension(access);
  if ('public' in x) return 'Access: public (no credentials).';
  const who = [
    ...(x.roles.length ? [`a signed-in user with role ${x.roles.join(', ')}`] : []),
    ...(x.scopes.length ? [`a key or token with scope${x.scopes.length > 1 ? 's' : ''} ${x.scopes.join(' + ')}`] : []),
  ];
  return `Access: ${who.join(', or ')}${x.owner ? '; only the owner of the object (another user\'s id answers 404)' : ''}. `
    + 'Without credentials 401, with insufficient ones 403 (problem+json).';
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route added to this app with its (final) options, to list their access declarations. */
    routeTable: readonly import('fastify').RouteOptions[];
  }
}

/** Keeps every route's options (their config as it ends up after every onRoute hook) in `app.routeTable`. */
export function trackRoutes(app: import('fastify').FastifyInstance): void {
  const table: import('fastify').RouteOptions[] = [];
  app.decorate('routeTable', table);
  app.addHook('onRoute', (route) => { table.push(route); });
}
