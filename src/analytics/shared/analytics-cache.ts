import type { Logger } from 'pino';
import type { Cache } from '../../platform/cache.ts';
import { metricsOf } from '../../platform/metrics.ts';
import { HOURS_CHANNEL } from '../../platform/change-events.ts';
import { HOUR_MS } from './hourly.ts';

/** Answers that span every BA (e.g. GET /now) live under this pseudo-BA and are dropped with any BA. */
export const ALL_BAS = 'ALL';

/** Keeps the last good answer long after its TTL, for the "database down" path. */
const LAST_GOOD_TTL_SECONDS = 7 * 86_400;
/** How long past its TTL an answer may still be served while a fresh one is computed. */
const REVALIDATE_WINDOW_SECONDS = 600;

interface Entry<T> { value: T; freshUntil: number }

export interface CachedAnswerOptions {
  logger?: Pick<Logger, 'warn'>;
  /** seconds past the TTL during which the old answer is served while a new one is computed */
  revalidateSeconds?: number;
  now?: () => number;
}

/** TTL in seconds, fixed or derived from the computed value (e.g. until the next expected hour). */
export type Ttl<T> = number | ((value: T) => number);

/** `analytics:{BA}:{rest}` — the key shape `invalidateBa` drops. */
export function analyticsKey(ba: string, ...parts: Array<string | number>): string {
  return `analytics:${ba}:${parts.join(':')}`;
}

function lastGoodKey(key: string): string {
  // Outside the `analytics:` prefix on purpose: invalidation must not erase the fallback copy.
  return `lastgood:${key}`;
}

const inFlight = new WeakMap<Cache, Map<string, Promise<unknown>>>();

/** One computation per cache and key per process at a time: concurrent misses share it. */
function singleFlight<T>(cache: Cache, key: string, run: () => Promise<T>): Promise<T> {
  let running = inFlight.get(cache);
  if (!running) inFlight.set(cache, (running = new Map()));
  const shared = running.get(key) as Promise<T> | undefined;
  if (shared) return shared;
  const p = run().finally(() => running.delete(key));
  running.set(key, p);
  return p;
}

// A failed read is a miss and a failed write is skipped, silently here: the cache itself logs an outage once and
// counts each failure (cache.ts), so a Redis outage is not a stack per request.
async function safeGet<T>(cache: Cache, key: string): Promise<T | undefined> {
  return cache.get<T>(key).catch(() => undefined);
}

async function safeSet(cache: Cache, key: string, value: unknown, ttl: number): Promise<void> {
  await cache.set(key, value, ttl).catch(() => undefined);
}

async function computeAndStore<T>(cache: Cache, key: string, ttl: Ttl<T>, compute: () => Promise<T>, o: Required<Omit<CachedAnswerOptions, 'logger'>> & CachedAnswerOptions): Promise<T> {
  return singleFlight(cache, key, async () => {
    const value = await compute();
    const seconds = Math.max(1, typeof ttl === 'function' ? ttl(value) : ttl);
    const entry: Entry<T> = { value, freshUntil: o.now() + seconds * 1000 };
    await Promise.all([
      safeSet(cache, key, entry, seconds + o.revalidateSeconds),
      safeSet(cache, lastGoodKey(key), value, LAST_GOOD_TTL_SECONDS),
    ]);
    return value;
  });
}

/**
 * One per answer: hit: fresh; revalidate: past its TTL, served while recomputed; miss: computed; stale: the
 * last good answer after a failed computation; error: a failed computation with no last good answer.
 */
type CacheOutcome = 'hit' | 'revalidate' | 'miss' | 'stale' | 'error';

function countOutcome(cache: Cache, outcome: CacheOutcome): void {
  metricsOf(cache)?.counter('gridpulse_analytics_cache_requests_total', 'analytics answers by cache outcome: hit, revalidate (stale-while-revalidate), miss (computed), stale (last good answer served after a failure), error (failed, nothing to serve)', ['outcome']).inc({ outcome });
}

/**
 * Serves `compute()` through the cache (counted in gridpulse_analytics_cache_requests_total when
 * the cache has metrics attached):
 * - fresh entry → served as is;
 * - entry past its TTL but within the revalidate window → served at once, recomputed in the background
 *   (stale-while-revalidate; a failed background run keeps the old entry);
 * - no entry → computed; if computing throws (database down) the last good answer, kept for a week
 *   under a key that invalidation does not touch, is served with `stale: true`; without one, the error propagates.
 * A failing cache never fails the answer: reads and writes that throw are skipped (the cache logs the outage once).
 */
export async function cachedAnswer<T extends object>(cache: Cache, key: string, ttl: Ttl<T>, compute: () => Promise<T>, options: CachedAnswerOptions = {}): Promise<T & { stale: boolean }> {
  const o = { revalidateSeconds: REVALIDATE_WINDOW_SECONDS, now: Date.now, ...options };
  const entry = await safeGet<Entry<T>>(cache, key);
  if (entry) {
    if (entry.freshUntil <= o.now()) {
      countOutcome(cache, 'revalidate');
      computeAndStore(cache, key, ttl, compute, o).catch((err: unknown) => o.logger?.warn({ err, key }, 'background revalidation failed'));
    } else {
      countOutcome(cache, 'hit');
    }
    return { ...entry.value, stale: false };
  }
  try {
    const value = await computeAndStore(cache, key, ttl, compute, o);
    countOutcome(cache, 'miss');
    return { ...value, stale: false };
  } catch (err) {
    const lastGood = await safeGet<T>(cache, lastGoodKey(key));
    if (lastGood === undefined) { countOutcome(cache, 'error'); throw err; }
    o.logger?.warn({ err, key }, 'serving last good answer (stale)');
    countOutcome(cache, 'stale');
    return { ...lastGood, stale: true };
  }
}

/** Drops every cached answer about the BA, and the all-BA answers that include it. */
export async function invalidateBa(cache: Cache, ba: string): Promise<number> {
  const [own, all] = await Promise.all([
    cache.invalidatePrefix(`analytics:${ba}:`),
    ba === ALL_BAS ? Promise.resolve(0) : cache.invalidatePrefix(`analytics:${ALL_BAS}:`),
  ]);
  return own + all;
}

/**
 * Seconds an answer built on data through `dataThrough` stays fresh: until the next hour is
 * expected (the hour after the newest one, plus EIA's usual publishing lag), at least a minute and at
 * most an hour. Answers about a closed past range (`to` more than `settledAfterHours` back) keep a day:
 * only an EIA revision changes them, and that arrives as a change event.
 */
export function dataTtlSeconds(args: { dataThrough: Date | string | null; to?: Date; now?: number; lagMinutes?: number; settledAfterHours?: number }): number {
  const now = args.now ?? Date.now();
  if (args.to && args.to.getTime() < now - (args.settledAfterHours ?? 72) * HOUR_MS) return 86_400;
  if (args.dataThrough === null) return 300;
  const nextExpected = new Date(args.dataThrough).getTime() + 2 * HOUR_MS + (args.lagMinutes ?? 60) * 60_000;
  const seconds = Math.round((nextExpected - now) / 1000);
  return Math.min(3600, Math.max(60, seconds));
}

/**
 * Answers that change without new hours (a forecast refresh) are announced on this channel, with the
 * `gridpulse_hours` payload shape (`{"bas":[…]}`), so every process's cache drops them, not only the cache of
 * the process that made the change (a separate worker, or web copies with in-process caches). The live
 * stream does not listen to it: no new hours, nothing for pages to re-fetch.
 */
export const ANSWERS_CHANNEL = 'gridpulse_answers';

/** Announces that the cached answers about these BAs are out of date (see ANSWERS_CHANNEL). */
export async function notifyAnswersChanged(db: { query(sql: string, params?: unknown[]): Promise<unknown> }, bas: string[]): Promise<void> {
  // 80 codes of at most 6 characters stay far below PostgreSQL's 8000-byte payload limit
  if (bas.length) await db.query('SELECT pg_notify($1, $2)', [ANSWERS_CHANNEL, JSON.stringify({ bas })]);
}

/** The listener side of the change-event contract; `Db` provides it (postgres.js and PGlite). */
export interface Listenable {
  listen(channel: string, handler: (payload: string) => void): Promise<() => Promise<void>>;
}

/** Parses one `gridpulse_hours` payload; `undefined` (and a warning) for anything malformed. */
export function parseHoursPayload(payload: string, logger?: Pick<Logger, 'warn'>): string[] | undefined {
  try {
    const parsed = JSON.parse(payload) as { bas?: unknown };
    if (Array.isArray(parsed.bas) && parsed.bas.every((b) => typeof b === 'string' && /^[A-Z0-9]{2,6}$/.test(b))) return parsed.bas as string[];
  } catch {
    // fall through to the warning
  }
  logger?.warn({ payload: payload.slice(0, 200) }, 'ignoring malformed gridpulse_hours payload');
  return undefined;
}

/**
 * Invalidates the cached answers of every BA named in a change event. Returns the unlisten function.
 * A malformed payload is logged and ignored; a failing invalidation is logged (the TTL still bounds staleness).
 */
export async function subscribeInvalidation(db: Listenable, cache: Cache, logger?: Pick<Logger, 'warn'>, onInvalidated?: (bas: string[]) => void): Promise<() => Promise<void>> {
  const drop = (payload: string) => {
    const bas = parseHoursPayload(payload, logger);
    if (!bas) return;
    Promise.all(bas.map((ba) => invalidateBa(cache, ba)))
      .then(() => onInvalidated?.(bas))
      .catch((err: unknown) => logger?.warn({ err, bas }, 'cache invalidation failed'));
  };
  const unlisten = await Promise.all([db.listen(HOURS_CHANNEL, drop), db.listen(ANSWERS_CHANNEL, drop)]);
  return async () => { await Promise.all(unlisten.map((u) => u())); };
}
