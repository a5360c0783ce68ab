/**
 * What a page shows for an API refusal. The API's access refusals speak to API clients ("send Authorization:
 * Bearer …", "the role viewer may not POST /api/v1/…", "csrf: … X-CSRF-Token header"); a page says what the
 * visitor can do about it instead. Told apart by the problem's field: `authorization` (or none) for "who are
 * you / may you", `csrf`/`origin` for a stale or foreign page. Problems naming another field (a wrong
 * password's 401 on `password`, a 400 on `bas/0`…) are written for people already and pass through unchanged.
 * Used by every page-side API call: WebContext.call (src/web/server.ts), meCall (me-api.ts) and the eGRID upload page.
 */
export function pageProblemDetail(status: number, detail: string, field?: string): string {
  const access = field === undefined || field === 'authorization';
  if (status === 401 && access) return 'You are not signed in, or your session has ended: sign in and try again.';
  if (status === 403 && (field === 'csrf' || field === 'origin')) return 'This page is out of date (its security token no longer matches): reload it and try again.';
  if (status === 403 && access) return 'Your account\'s role does not allow this. An administrator can change roles.';
  return detail;
}
