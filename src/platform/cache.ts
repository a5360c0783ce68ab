import { LRUCache } from 'lru-cache';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { metricsOf, type Metrics } from './metrics.ts';
import { Outage } from './outage.ts';
import { SpanKind, tracingEnabled, withSpan } from './tracing.ts';

/** A CLIENT span per Redis command when tracing is on (`redis GET`, the key without its value). */
function traced<T>(command: string, key: string, run: () => Promise<T>): Promise<T> {
  if (!tracingEnabled()) return run();
  return withSpan(`redis ${command}`, { 'db.system.name': 'redis', 'db.operation.name': command, 'gridpulse.cache_key': key }, run, { kind: SpanKind.CLIENT });
}

/** Cache port: JSON values with a TTL, plus prefix invalidation (used when new hours land for a BA). */
export interface Cache {
  readonly kind: 'redis' | 'memory';
  get<T>(key: string): Promise<T | undefined>;
  set(key: string, value: unknown, ttlSeconds: number): Promise<void>;
  invalidatePrefix(prefix: string): Promise<number>;
  /** Resolves when the store answers (readiness); rejects when it does not. Absent: always answers (in process). */
  ping?(): Promise<void>;
  close(): Promise<void>;
}

export function memoryCache(maxEntries = 10_000): Cache {
  const lru = new LRUCache<string, { v: unknown }>({ max: maxEntries });
  return {
    kind: 'memory',
    get: async <T,>(key: string) => lru.get(key)?.v as T | undefined,
    set: async (key, value, ttl) => { lru.set(key, { v: value }, { ttl: ttl * 1000 }); },
    invalidatePrefix: async (prefix) => {
      let n = 0;
      for (const k of [...lru.keys()]) if (k.startsWith(prefix)) { lru.delete(k); n++; }
      return n;
    },
    close: async () => { lru.clear(); },
  };
}

/** The Redis operations counted in gridpulse_cache_errors_total{operation}. */
const OPERATIONS = ['get', 'set', 'invalidate', 'ping'] as const;
type Operation = typeof OPERATIONS[number];

/** gridpulse_cache_errors_total{operation}: Redis commands that failed (unreachable, timed out); every label at 0. */
export function cacheErrorCounter(metrics: Metrics) {
  const counter = metrics.counter('gridpulse_cache_errors_total', 'Redis cache commands that failed (unreachable or over 500 ms), by operation: get, set, invalidate, ping; each one served uncached', ['operation']);
  for (const operation of OPERATIONS) counter.inc({ operation }, 0);
  return counter;
}

export interface RedisCacheOptions {
  /** Redis key prefix (default `gp:`; tests use their own) */
  namespace?: string;
  /** Where the cache says it went down and came back (one line each per outage). */
  logger?: Pick<Logger, 'warn' | 'info'>;
}

/**
 * The Redis cache at `url` (keys under `opts.namespace`). Resolves even when Redis cannot be reached yet: every command
 * then fails at once (a miss for the caller), `ping` rejects (readiness: degraded), and the client reconnects.
 */
export async function redisCache(url: string, opts: RedisCacheOptions = {}): Promise<Cache> {
  const namespace = opts.namespace ?? 'gp:';
  // A cache must never make an answer wait: while Redis is unreachable (or hung) commands fail at once (or
  // after 500 ms) instead of queueing for the reconnection, callers treat that as a miss, and ioredis keeps
  // reconnecting in the background.
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: false, commandTimeout: 500, keyPrefix: namespace });
  redis.on('error', () => { /* failed commands are reported below; this only silences ioredis' own console line per reconnect */ });
  // Redis unreachable at start is the same degraded state as Redis lost later (readiness `cache` degraded, answers
  // computed afresh), not a process that cannot start: ioredis keeps reconnecting after a failed first connect.
  await redis.connect().catch(() => {});
  // An outage is told once, not per request (a busy API would write a stack per cached GET): one warn line at the
  // first failed command, one info line at the first success after it; every failure is counted.
  const outage = new Outage();
  const tell = <T,>(operation: Operation, command: () => Promise<T>): Promise<T> => command().then((v) => {
    if (outage.answered()) opts.logger?.info('cache: Redis answers again');
    return v;
  }, (err: unknown) => {
    const metrics = metricsOf(cache);
    if (metrics) cacheErrorCounter(metrics).inc({ operation });
    if (outage.failed()) opts.logger?.warn({ err: (err as Error).message, operation }, 'cache: Redis failed; answers are computed uncached until it is back');
    throw err;
  });
  const cache: Cache = {
    kind: 'redis',
    get: <T,>(key: string) => traced('GET', key, async () => {
      const raw = await tell('get', () => redis.get(key));
      return raw === null ? undefined : (JSON.parse(raw) as T);
    }),
    set: (key, value, ttl) => traced('SET', key, async () => { await tell('set', () => redis.set(key, JSON.stringify(value), 'EX', Math.max(1, Math.ceil(ttl)))); }),
    invalidatePrefix: (prefix) => traced('SCAN+DEL', prefix, () => tell('invalidate', async () => {
      let n = 0;
      // SCAN patterns are not prefixed by ioredis' keyPrefix, DEL keys are: strip it before deleting.
      for await (const keys of redis.scanStream({ match: `${namespace}${prefix}*`, count: 500 })) {
        const list = (keys as string[]).map((k) => k.slice(namespace.length));
        if (list.length) n += await redis.del(...list);
      }
      return n;
    })),
    ping: async () => { await tell('ping', () => redis.ping()); },
    // QUIT needs a live connection: on a dead one the socket is dropped all the same, then the failure is reported
    close: async () => { try { await redis.quit(); } catch (err) { redis.disconnect(); throw err; } },
  };
  return cache;
}

/** Redis when REDIS_URL is set (its outages told to `logger`), else the in-process LRU. */
export function openCache(redisUrl: string | undefined, logger?: Pick<Logger, 'warn' | 'info'>): Promise<Cache> {
  return redisUrl ? redisCache(redisUrl, logger ? { logger } : {}) : Promise.resolve(memoryCache());
}
