import { canonicalZone } from '../../../grid/local-day.ts';
import { BA_CODE } from './loaders.ts';

/**
 * Anonymous preferences kept in one cookie (no login): default BA, how times are shown, colour theme, and the
 * viewer's own IANA time zone as their browser reported it (null until known), so that "my local time" can be
 * rendered on the server and hydrate to the very same text.
 */
export interface Prefs { ba: string | null; time: 'ba' | 'viewer' | 'utc'; theme: 'light' | 'dark' | 'system'; zone: string | null }

export const PREFS_COOKIE = 'gp_prefs';
export const DEFAULT_PREFS: Prefs = { ba: null, time: 'ba', theme: 'system', zone: null };
const TIMES = ['ba', 'viewer', 'utc'] as const;
const THEMES = ['light', 'dark', 'system'] as const;

const oneOf = <T extends string>(list: readonly T[], v: unknown): T | undefined =>
  (list as readonly unknown[]).includes(v) ? (v as T) : undefined;

/** canonicalZone lives with the other time-zone helpers (src/grid/local-day.ts); re-exported for the pages and web.test. */
export { canonicalZone };

/** Reads the preferences from a Cookie header; anything malformed falls back to the default, never throws. */
export function parsePrefs(cookieHeader: string | null | undefined): Prefs {
  const raw = (cookieHeader ?? '').split(/;\s*/).find((c) => c.startsWith(`${PREFS_COOKIE}=`))?.slice(PREFS_COOKIE.length + 1);
  if (!raw) return { ...DEFAULT_PREFS };
  let params: URLSearchParams;
  try { params = new URLSearchParams(decodeURIComponent(raw)); } catch { return { ...DEFAULT_PREFS }; }
  return mergePrefs(DEFAULT_PREFS, params);
}

/** Applies the valid fields of a form (or parsed cookie) over `base`; unknown or invalid values are ignored. */
export function mergePrefs(base: Prefs, form: { get(name: string): unknown }): Prefs {
  const ba = form.get('ba');
  const baCode = typeof ba === 'string' ? ba.toUpperCase() : undefined;
  return {
    ba: baCode === '' ? null : baCode && BA_CODE.test(baCode) ? baCode : base.ba,
    time: oneOf(TIMES, form.get('time')) ?? base.time,
    theme: oneOf(THEMES, form.get('theme')) ?? base.theme,
    // A missing, empty or invalid zone keeps the one already known (none: times in "my local time" show as UTC).
    zone: canonicalZone(form.get('zone')) ?? base.zone,
  };
}

export function serializePrefs(p: Prefs): string {
  const params = new URLSearchParams({ time: p.time, theme: p.theme, ...(p.ba ? { ba: p.ba } : {}), ...(p.zone ? { zone: p.zone } : {}) });
  return `${PREFS_COOKIE}=${encodeURIComponent(params.toString())}; Path=/; Max-Age=31536000; SameSite=Lax`;
}

const SELF = 'http://gridpulse.invalid';

/** The site's pages a form may send the visitor back to (a new page that hosts a preferences form goes here too). */
const RETURN_PAGES = [/^\/$/, /^\/ba$/, /^\/ba\/[A-Za-z0-9]{2,6}$/, /^\/compare$/, /^\/pipeline$/, /^\/methodology$/];

/**
 * Where to send the visitor after saving: a page of this site, else `/`. The value is first resolved as a
 * browser resolves a Location header against a fixed base (dropping tabs and newlines, reading `\` as `/`,
 * removing `.` and `..` segments, decoding nothing else), then its path must be one of the site's pages
 * exactly: `/.//evil.example`, which resolves to the path `//evil.example`, is refused like `//evil.example`.
 * The answer is rebuilt from the parsed path and query only, so it can never name another host.
 */
export function safeRedirect(to: unknown): string {
  return localTarget(to, '/', RETURN_PAGES);
}

/**
 * The one rule for every redirect target taken from a client (a form field, a `next` query parameter): a path of
 * this site, else `fallback`. Resolved as a browser resolves a Location header against a fixed base (dropping tabs
 * and newlines, reading `\` as `/`, removing dot segments), it must stay on this origin, its path must not start with
 * `//` (a browser would read that as another host), and, when `pages` is given, be one of them. The answer is rebuilt
 * from the parsed path and query, which are percent-encoded: it can name no other host and carries no control
 * character into a Location header.
 */
export function localTarget(to: unknown, fallback: string, pages?: readonly RegExp[]): string {
  if (typeof to !== 'string' || !to.startsWith('/')) return fallback;
  const url = URL.parse(to, SELF);
  if (url?.origin !== SELF || url.pathname.startsWith('//')) return fallback;
  if (pages && !pages.some((page) => page.test(url.pathname))) return fallback;
  return url.pathname + url.search;
}
