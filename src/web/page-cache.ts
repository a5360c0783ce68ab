import { randomUUID } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { isbot } from 'isbot';
import type { FastifyRequest } from 'fastify';
import type { Cache } from '../platform/cache.ts';
import { ALL_BAS, analyticsKey } from '../analytics/shared/analytics-cache.ts';
import { newCsrfToken } from './csrf.ts';
import { parsePrefs } from './app/lib/prefs.ts';

/**
 * Cache of server-rendered pages for anonymous visitors (issue 11: `/ba/CISO` rendered at 50 connections was 1–3 %
 * of a bare route sending the same bytes; React's render of the BA page is ~14 ms of its 15).
 *
 * What a page depends on is its key: host (the snippets print the request's origin when PUBLIC_URL is unset), path
 * and query, the visitor's preferences cookie (gp_prefs, as parsed: BA, time display, theme, zone), whether the
 * visitor is a bot (bots get the document fully rendered, no streaming), and the data's change version; a page is
 * kept at most a minute after its render (pages print times relative to now). The version is one small entry in the shared cache under
 * `analytics:ALL:`, so every invalidation of cached answers (change events on gridpulse_hours and
 * gridpulse_answers, the forecast job's invalidateBa) drops it, and the pages with it, in every process that shares
 * the cache. Changes no event announces (an eGRID import, the first fill's progress notice) show within a minute.
 *
 * Signed-in visitors (a gp_session cookie or an Authorization header) are never served from or stored in it: their
 * pages carry their name, role, alerts and views. Only 200 answers without Set-Cookie are stored.
 *
 * The anti-forgery token: every page carries the visitor's token in its forms and loader data (double-submit, see
 * csrf.ts). A cached page is rendered with a per-process placeholder token instead, kept split at each occurrence,
 * and each visitor's own token (from their anonymous csrf cookie, or a new one set with the answer) is put back in its
 * place when served. No visitor ever receives another visitor's token or the placeholder.
 */
export interface PageCacheOptions {
  /** Most bytes of HTML kept (default 32 MB). */
  maxBytes?: number;
  /** How long a page is served after its render (default 60 s: pages print times relative to now). */
  ttlMs?: number;
  /** More of what every page shows, as key parts (the store's fill state: the "Filling…" notice); a failure reads as unknown. */
  alsoDependsOn?: () => Promise<unknown>;
  now?: () => number;
}

interface CachedPage { status: number; headers: [string, string][]; parts: string[]; bytes: number }

/** A rendered answer: status, headers (with any Set-Cookie the render made, then `setsCookie`) and the whole body. */
export interface RenderedPage { status: number; headers: [string, string][]; body: string; setsCookie: boolean }

const VERSION_KEY = analyticsKey(ALL_BAS, 'page-version');
const VERSION_TTL_SECONDS = 86_400;

export interface PageCache {
  /** The placeholder a cacheable render must use as its anti-forgery token. */
  readonly placeholder: string;
  /** Whether this request may be answered from (and stored in) the cache. */
  eligible(req: FastifyRequest): boolean;
  /**
   * The page for req with `token` in place of the placeholder: from the cache, or rendered by `render` (one render per
   * key at a time) and stored when it is a 200 without cookies. `hit` says which.
   */
  serve(req: FastifyRequest, token: string, render: () => Promise<RenderedPage>): Promise<{ page: RenderedPage; hit: boolean }>;
  readonly size: number;
}

/** Builds the page cache; `cache` is the shared cache port that holds the data version (not the pages). */
export function pageCache(cache: Cache, opts: PageCacheOptions = {}): PageCache {
  const now = opts.now ?? Date.now;
  const placeholder = newCsrfToken();
  const pages = new LRUCache<string, CachedPage>({ maxSize: opts.maxBytes ?? 32 * 1024 * 1024, sizeCalculation: (p) => Math.max(1, p.bytes),
    ttl: opts.ttlMs ?? 60_000, perf: { now } });
  const inFlight = new Map<string, Promise<RenderedPage>>();

  // concurrent requests that find no version share the one that replaces it (else each would render under its own)
  let creating: Promise<string> | undefined;
  async function version(): Promise<string> {
    const v = await cache.get<string>(VERSION_KEY).catch(() => undefined);
    if (typeof v === 'string') return v;
    creating ??= (async () => {
      const fresh = randomUUID();
      await cache.set(VERSION_KEY, fresh, VERSION_TTL_SECONDS).catch(() => {});
      return fresh;
    })().finally(() => { creating = undefined; });
    return creating;
  }

  const keyOf = async (req: FastifyRequest, v: string): Promise<string> => {
    const ua = req.headers['user-agent'];
    const prefs = parsePrefs(req.headers.cookie);
    const more = opts.alsoDependsOn ? await opts.alsoDependsOn().catch(() => 'unknown') : null;
    return JSON.stringify([v, req.headers.host ?? '', req.url, prefs, Boolean(ua && isbot(ua)), more]);
  };

  const fill = (page: CachedPage, token: string): RenderedPage =>
    ({ status: page.status, headers: page.headers, body: page.parts.join(token), setsCookie: false });

  return {
    placeholder,
    get size() { return pages.size; },
    eligible(req) {
      if (req.method !== 'GET') return false;
      if (req.headers.authorization !== undefined) return false;
      if (/(^|;\s*)gp_session=/.test(req.headers.cookie ?? '')) return false;
      const p = req.principal;
      return !p;
    },
    async serve(req, token, render) {
      const key = await keyOf(req, await version());
      const hit = pages.get(key);
      if (hit) return { page: fill(hit, token), hit: true };
      const shared = inFlight.get(key);
      if (shared) {
        const page = await shared.catch(() => undefined);
        // a render that set cookies (or failed) was that visitor's own: render again for this one
        if (page && !page.setsCookie) return { page: { ...page, body: page.body.split(placeholder).join(token) }, hit: true };
        const own = await render();
        return { page: { ...own, body: own.body.split(placeholder).join(token) }, hit: false };
      }
      const running = render().finally(() => inFlight.delete(key));
      inFlight.set(key, running);
      const page = await running;
      if (page.status === 200 && !page.setsCookie) {
        const parts = page.body.split(placeholder);
        pages.set(key, { status: page.status, headers: page.headers, parts, bytes: page.body.length });
      }
      return { page: { ...page, body: page.body.split(placeholder).join(token) }, hit: false };
    },
  };
}
