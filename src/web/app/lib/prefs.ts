import { BA_CODE } from './loaders.ts';

/** Anonymous preferences kept in one cookie (no login): default BA, how times are shown, colour theme. */
export interface Prefs { ba: string | null; time: 'ba' | 'viewer' | 'utc'; theme: 'light' | 'dark' | 'system' }

export const PREFS_COOKIE = 'gp_prefs';
export const DEFAULT_PREFS: Prefs = { ba: null, time: 'ba', theme: 'system' };
const TIMES = ['ba', 'viewer', 'utc'] as const;
const THEMES = ['light', 'dark', 'system'] as const;

const oneOf = <T extends string>(list: readonly T[], v: unknown): T | undefined =>
  (list as readonly unknown[]).includes(v) ? (v as T) : undefined;

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
  };
}

export function serializePrefs(p: Prefs): string {
  const params = new URLSearchParams({ time: p.time, theme: p.theme, ...(p.ba ? { ba: p.ba } : {}) });
  return `${PREFS_COOKIE}=${encodeURIComponent(params.toString())}; Path=/; Max-Age=31536000; SameSite=Lax`;
}

const SELF = 'http://gridpulse.invalid';

/**
 * Only same-site paths may be redirected to after saving. The path is resolved as a browser resolves a
 * Location header (which drops tabs and newlines and reads `\` as `/`), so `/\t/evil.example` is refused too.
 */
export function safeRedirect(to: unknown): string {
  if (typeof to !== 'string' || !to.startsWith('/')) return '/';
  const url = URL.parse(to, SELF);
  return url?.origin === SELF ? url.pathname + url.search + url.hash : '/';
}
