import { LRUCache } from 'lru-cache';
import { Redis } from 'ioredis';
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

/**
 * The Redis cache at `url` (keys under `namespace`). Resolves even when Redis cannot be reached yet: every command
 * then fails at once (a miss for the caller), `ping` rejects (readiness: degraded), and the client reconnects.
 */
export async function redisCache(url: string, namespace = 'gp:'): Promise<Cache> {
  // A cache must never make an answer wait: while Redis is unreachable (or hung) commands fail at once (or
  // after 500 ms) instead of queueing for the reconnection, callers treat that as a miss (cachedAnswer logs
  // it), and ioredis keeps reconnecting in the background.
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: false, commandTimeout: 500, keyPrefix: namespace });
  redis.on('error', () => { /* each failed command is reported by its caller; this only silences ioredis' own console line */ });
  // Redis unreachable at start is the same degraded state as Redis lost later (readiness `cache` degraded, answers
  // computed afresh), not a process that cannot start: ioredis keeps reconnecting after a failed first connect.
  await redis.connect().catch(() => {});
  return {
    kind: 'redis',
    get: <T,>(key: string) => traced('GET', key, async () => {
      const raw = await redis.get(key);
      return raw === null ? undefined : (JSON.parse(raw) as T);
    }),
    set: (key, value, ttl) => traced('SET', key, async () => { await redis.set(key, JSON.stringify(value), 'EX', Math.max(1, Math.ceil(ttl))); }),
    invalidatePrefix: (prefix) => traced('SCAN+DEL', prefix, async () => {
      let n = 0;
      // SCAN patterns are not prefixed by ioredis' keyPrefix, DEL keys are: strip it before deleting.
      for await (const keys of redis.scanStream({ match: `${namespace}${prefix}*`, count: 500 })) {
        const list = (keys as string[]).map((k) => k.slice(namespace.length));
        if (list.length) n += await redis.del(...list);
      }
      return n;
    }),
    ping: async () => { await redis.ping(); },
    close: async () => { await redis.quit(); },
  };
}

export function openCache(redisUrl: string | undefined): Promise<Cache> {
  return redisUrl ? redisCache(redisUrl) : Promise.resolve(memoryCache());
}
