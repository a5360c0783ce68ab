import { pageProblemDetail } from './page-problem.ts';

/**
 * The signed-in visitor's own API (/api/v1/me/…), called from the browser: the session cookie (or, for API
 * clients driving a browser, an Authorization header) identifies the user; state-changing calls carry the
 * page's anti-forgery token in X-CSRF-Token. Errors come back as the problem's detail, 401/403 worded for people (page-problem.ts).
 */
export type MeResult<T> = { ok: true; status: number; data: T } | { ok: false; status: number; detail: string };

export async function meCall<T>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, csrf: string, body?: unknown): Promise<MeResult<T>> {
  try {
    const res = await fetch(path, {
      method, credentials: 'same-origin',
      headers: { accept: 'application/json', ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(method !== 'GET' ? { 'x-csrf-token': csrf } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    if (res.status === 204) return { ok: true, status: 204, data: undefined as T };
    const json = await res.json().catch(() => ({})) as { detail?: string; field?: string };
    return res.ok ? { ok: true, status: res.status, data: json as T } : { ok: false, status: res.status, detail: pageProblemDetail(res.status, json.detail ?? `HTTP ${res.status}`, json.field) };
  } catch (err) {
    return { ok: false, status: 0, detail: (err as Error).message };
  }
}

/**
 * Whether a page request carries credentials at all (the web session cookie, src/auth/access-hook.ts
 * SESSION_COOKIE, or an Authorization header): only then do signed-in features ask /api/v1/me, so an
 * anonymous visitor's browser never logs a 401.
 */
export function mayBeSignedIn(request: Request): boolean {
  return request.headers.has('authorization') || /(^|;\s*)gp_session=/.test(request.headers.get('cookie') ?? '');
}
