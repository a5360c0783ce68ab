import { data, redirect } from 'react-router';
import type { WebContext } from './context.ts';

export type ViewerRole = NonNullable<WebContext['viewer']>['role'];

/**
 * Who may open a page that needs a signed-in user: any role (`'signed-in'`) or only the listed roles. A route
 * module declares it as `export const access: PageAccess` and its loader (and action) calls requireViewer with
 * it; test/browser/page-access.test.ts walks src/web/app/routes.ts and requests every such page signed out and
 * with a wrong role.
 */
export type PageAccess = 'signed-in' | readonly ViewerRole[];

/** `/signin?next=<this page>`: the page's path and query, percent-encoded except its slashes (signin's safeNext checks it). */
export function signinHref(request: Request): string {
  const url = new URL(request.url);
  return `/signin?next=${encodeURIComponent(url.pathname + url.search).replace(/%2F/g, '/')}`;
}

/**
 * The signed-in visitor a page needs. Signed out: throws a redirect to /signin?next=… (302; the page's
 * own forms and 401s from its API calls never render). Signed in with a role the page does not serve:
 * throws a 403 page (the root ErrorBoundary, never cached) saying which roles it serves.
 */
export function requireViewer(web: WebContext, request: Request, access: PageAccess): NonNullable<WebContext['viewer']> {
  if (!web.viewer) throw redirect(signinHref(request));
  if (access !== 'signed-in' && !access.includes(web.viewer.role)) {
    throw data(`This page is for ${access.join(' and ')} accounts; yours has the role ${web.viewer.role}. An administrator can change roles.`, { status: 403, statusText: 'Forbidden', headers: { 'Cache-Control': 'no-store' } });
  }
  return web.viewer;
}
