import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createRequire } from 'node:module';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import rateLimit, { normalizeIP, type FastifyRateLimitStore } from '@fastify/rate-limit';
import { Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import type { RateLimitSpec } from '../platform/config.ts';
import { HttpProblem } from '../platform/problem.ts';
import { sessionCookieOf } from './access-hook.ts';
import { Outage } from '../platform/outage.ts';

/**
 * Which budget a request spends: reads (GET, HEAD, OPTIONS), writes (every other method), or the sign-in
 * budget (calls to /api/v1/auth/*). Credentials refused elsewhere spend a budget of their own (guardSignInBudget).
 */
export type LimitClass = 'read' | 'write' | 'auth';

/** Paths whose calls spend the `auth` budget, always per IP (sign-in, refresh, logout happen before or without a principal). */
export const AUTH_PATH_PREFIXES: readonly string[] = ['/api/v1/auth/'];

export interface RateLimitSettings {
  read: RateLimitSpec;
  write: RateLimitSpec;
  auth: RateLimitSpec;
  /** Redis shared by every web copy (REDIS_URL); absent: each process counts on its own (embedded). */
  redisUrl?: string | undefined;
  /** Redis key prefix (tests use their own). */
  namespace?: string | undefined;
  /** After a Redis failure, count in-process for this long before trying Redis again (ms, default 5000). */
  redisRetryMs?: number | undefined;
}

/**
 * Paths no budget applies to: the process's health, readiness and metrics, called by the orchestrator, the proxy and
 * Prometheus, often from an address shared with busy clients (a 429 on a probe would restart a healthy copy).
 * Matched exactly, with or without a query string.
 */
export const UNLIMITED_PATHS: readonly string[] = ['/healthz', '/readyz', '/metrics'];

function isUnlimitedPath(url: string): boolean {
  const q = url.indexOf('?');
  return UNLIMITED_PATHS.includes(q === -1 ? url : url.slice(0, q));
}

export function limitClassOf(method: string, url: string): LimitClass {
  if (AUTH_PATH_PREFIXES.some((p) => url.startsWith(p))) return 'auth';
  return method === 'GET' || method === 'HEAD' || method === 'OPTIONS' ? 'read' : 'write';
}

/**
 * Whose budget a request spends: the signed-in user (`user:<id>`; a user's sessions share one budget) or
 * API key (`key:<id>`), else the client address (`ip:<addr>`, an IPv6 client by its /64). The address is
 * `req.ip`, which honours X-Forwarded-For only from TRUST_PROXY peers. Sign-in calls are always per IP.
 */
export function rateLimitSubject(req: FastifyRequest, limitClass: LimitClass): string {
  const principal = req.principal;
  if (principal && limitClass !== 'auth') return principal.kind === 'user' ? `user:${principal.userId ?? principal.id}` : `key:${principal.id}`;
  return `ip:${normalizeIP(req.ip)}`;
}

/** The store key of a request: its class and subject (one counter per class and subject, across every route). */
export function rateLimitKey(req: FastifyRequest): string {
  const limitClass = limitClassOf(req.method, req.url);
  return `${limitClass}:${rateLimitSubject(req, limitClass)}`;
}

const classOfKey = (key: string): LimitClass => key.slice(0, key.indexOf(':')) as LimitClass;

const INTERNAL_HEADER = 'x-gridpulse-internal';
const INTERNAL_TOKEN = randomBytes(24).toString('base64url');

/**
 * Headers for the app's own in-process calls (the pages' loaders call the API through app.inject): the page
 * request already spent its visitor's budget, so its inner calls spend none. The token is random per process
 * and never leaves it.
 */
export function internalCallHeaders(): Record<string, string> {
  return { [INTERNAL_HEADER]: INTERNAL_TOKEN };
}

function isInternalCall(req: FastifyRequest): boolean {
  const sent = req.headers[INTERNAL_HEADER];
  return typeof sent === 'string' && sent.length === INTERNAL_TOKEN.length && timingSafeEqual(Buffer.from(sent), Buffer.from(INTERNAL_TOKEN));
}

type StoreResult = { current: number; ttl: number };
type StoreCallback = (error: Error | null, result?: StoreResult) => void;
interface Store extends FastifyRateLimitStore {
  incr(key: string, cb: StoreCallback, timeWindow: number, max: number): void;
  read(key: string, cb: StoreCallback, timeWindow: number, max: number): void;
}
type RouteStoreOptions = Parameters<FastifyRateLimitStore['child']>[0];

// The plugin's own stores (its Redis Lua script and its LRU), composed below; the package ships no types for them.
const require = createRequire(import.meta.url);
const RedisStore = require('@fastify/rate-limit/store/RedisStore.js') as new (continueExceeding: boolean, exponentialBackoff: boolean, redis: Redis, key: string) => Store;
const LocalStore = require('@fastify/rate-limit/store/LocalStore.js') as new (continueExceeding: boolean, exponentialBackoff: boolean, cache: number) => Store;

/**
 * Redis first, this process second. Every web copy counts in Redis (one atomic INCR+PEXPIRE script per
 * request). When Redis fails or times out, the request is counted in-process instead and Redis is left alone
 * for `retryMs`: the limits stay on, per copy (at most limit × copies), and no request waits on a dead Redis
 * or turns into a 5xx. This is "fail to local", neither open nor closed.
 */
/** Told of every fall back to per-process counting (`first`: the first of an outage), and of Redis answering again. */
interface FallbackListener { fallback(err: Error, first: boolean): void; back(): void }

class FallbackStore implements Store {
  private readonly shared: Store;
  private readonly local: Store;
  private readonly retryMs: number;
  private readonly listener: FallbackListener;
  /** shared with the route stores (child): one outage, told once */
  private readonly state: { downUntil: number; outage: Outage };

  constructor(shared: Store, local: Store, retryMs: number, listener: FallbackListener, state = { downUntil: 0, outage: new Outage() }) {
    this.shared = shared;
    this.local = local;
    this.retryMs = retryMs;
    this.listener = listener;
    this.state = state;
  }

  private answered(cb: StoreCallback, res: StoreResult): void {
    if (this.state.outage.answered()) this.listener.back();
    cb(null, res);
  }

  private failed(err: Error | null): void {
    this.state.downUntil = Date.now() + this.retryMs;
    this.listener.fallback(err ?? new Error('empty answer from the shared store'), this.state.outage.failed());
  }

  incr(key: string, cb: StoreCallback, timeWindow: number, max: number): void {
    if (Date.now() < this.state.downUntil) return this.local.incr(key, cb, timeWindow, max);
    this.shared.incr(key, (err, res) => {
      if (!err && res) return this.answered(cb, res);
      this.failed(err);
      this.local.incr(key, cb, timeWindow, max);
    }, timeWindow, max);
  }

  read(key: string, cb: StoreCallback, timeWindow: number, max: number): void {
    if (Date.now() < this.state.downUntil) return this.local.read(key, cb, timeWindow, max);
    this.shared.read(key, (err, res) => {
      if (!err && res) return this.answered(cb, res);
      this.failed(err);
      this.local.read(key, cb, timeWindow, max);
    }, timeWindow, max);
  }

  child(routeOptions: RouteStoreOptions): Store {
    return new FallbackStore(this.shared.child(routeOptions) as Store, this.local.child(routeOptions) as Store, this.retryMs, this.listener, this.state);
  }
}

/** A Redis client that never queues: while Redis is unreachable, commands fail at once (and the store falls back). */
function rateLimitRedis(url: string): Redis {
  const redis = new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 0, commandTimeout: 500, connectTimeout: 2000, lazyConnect: true });
  // ioredis emits one error per reconnect attempt: an outage is told once by the FallbackStore's listener instead
  redis.on('error', () => {});
  return redis;
}

/** Connects, waiting at most `ms`: a Redis that is down at start leaves the limits per process until it is back. */
async function connectWithin(redis: Redis, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    redis.connect().catch(() => { /* reported by the error handler; ioredis keeps reconnecting */ }),
    new Promise((resolve) => { timer = setTimeout(resolve, ms); }),
  ]);
  clearTimeout(timer);
}

const seconds = (ms: number) => (ms % 3_600_000 === 0 ? `${ms / 3_600_000} h` : ms % 60_000 === 0 ? `${ms / 60_000} min` : `${ms / 1000} s`);

/**
 * Rate limits on every route registered after this call (@fastify/rate-limit, onRequest, after any app-level
 * onRequest hook such as the one that resolves `req.principal`), keyed by class and subject (rateLimitKey):
 * - 429 application/problem+json naming the budget, with `Retry-After` (seconds) and the IETF draft
 *   `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` headers on every answer;
 * - shared through Redis when `redisUrl` is set (FallbackStore: per process while Redis is down), else
 *   in-process;
 * - the app's in-process calls (internalCallHeaders) and the probes (UNLIMITED_PATHS: /healthz, /readyz, /metrics)
 *   are not counted.
 * - credentials refused anywhere (401 outside /api/v1/auth/*) spend the address's budget of refused credentials
 *   (its own, the size of the sign-in one), and an address that has spent it has its refused credentials
 *   answered 429 (guardSignInBudget); sign-in and refresh are not charged for them.
 * Counted in gridpulse_rate_limited_total{class} and gridpulse_rate_limit_fallbacks_total; the first refusal of
 * a subject in each window is logged (warn) with the request id.
 */
export async function registerRateLimits(app: FastifyInstance, settings: RateLimitSettings, logger: Logger, onThrottled?: ThrottleListener): Promise<void> {
  const limited = app.metrics.counter('gridpulse_rate_limited_total', 'requests refused with 429 by rate limits, by budget (read, write, auth)', ['class']);
  const fallbacks = app.metrics.counter('gridpulse_rate_limit_fallbacks_total', 'times the rate limits fell back to per-process counting because Redis failed');
  const redis = settings.redisUrl ? rateLimitRedis(settings.redisUrl) : undefined;
  if (redis) await connectWithin(redis, 2000);
  const local = new LocalStore(false, false, 100_000);
  // every fall back counted; an outage logged once when it starts and once when Redis answers again, never per request
  const listener: FallbackListener = {
    fallback: (err, first) => { fallbacks.inc(); if (first) logger.warn({ err: err.message }, 'rate limits: Redis failed; counting per process until it is back'); },
    back: () => { logger.info('rate limits: Redis answers again; counting shared'); },
  };
  const store = redis
    ? new FallbackStore(new RedisStore(false, false, redis, settings.namespace ?? 'gp:rl:'), local, settings.redisRetryMs ?? 5000, listener)
    : local;
  const warned = new LRUCache<string, true>({ max: 10_000, ttl: Math.max(settings.read.windowMs, settings.write.windowMs, settings.auth.windowMs) });
  const specOf = (key: string): RateLimitSpec => settings[classOfKey(key)];

  await app.register(rateLimit, {
    global: true,
    hook: 'onRequest',
    enableDraftSpec: true,
    store: class { constructor() { return store; } } as unknown as new () => FastifyRateLimitStore,
    keyGenerator: rateLimitKey,
    max: (_req, key) => specOf(key).max,
    timeWindow: (_req, key) => specOf(key).windowMs,
    allowList: (req) => isInternalCall(req) || isUnlimitedPath(req.url),
    onExceeded: (req, key) => {
      limited.inc({ class: classOfKey(key) });
      if (!warned.has(key)) {
        warned.set(key, true, { ttl: specOf(key).windowMs });
        req.log.warn({ rateLimit: key }, 'rate limit exceeded');
        onThrottled?.(req, classOfKey(key));
      }
    },
    errorResponseBuilder: (req, ctx) => {
      const key = rateLimitKey(req);
      const limitClass = classOfKey(key);
      const who = key.slice(limitClass.length + 1).split(':')[0] === 'ip' ? 'this address' : `this ${key.split(':')[1]}`;
      const after = Math.max(1, Math.ceil(ctx.ttl / 1000));
      return new HttpProblem(429, `too many ${limitClass} requests: at most ${ctx.max} per ${seconds(specOf(key).windowMs)} from ${who}; retry in ${after} s`);
    },
  });
  guardSignInBudget(app, store, settings.auth, warned);
  if (redis) app.addHook('onClose', async () => { redis.disconnect(); });
}

const promised = (fn: (cb: StoreCallback) => void) => new Promise<StoreResult>((resolve, reject) => fn((err, res) => (err || !res ? reject(err ?? new Error('no answer')) : resolve(res))));

/** Told once per subject and budget window when a client is throttled (the app writes an audit record). */
export type ThrottleListener = (req: FastifyRequest, budget: LimitClass) => void;

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * Set when this request presents credentials from an address that has spent its sign-in budget: the access
     * hook then answers a refused credential with this 429 instead of a 401 (valid credentials still pass).
     * `first` is true once per address and window, when the throttling is worth an audit record.
     */
    credentialsThrottled?: { retryAfter: number; max: number; detail: string; first: boolean };
  }
}

/**
 * Guessing credentials is not only calling /api/v1/auth/*: a bad bearer token or API key on any route is a
 * guess too (and each refusal writes an audit record). Every 401 outside the sign-in paths spends the
 * address's budget of refused credentials (`refused:ip:<addr>`, as large as the sign-in budget, RATE_LIMIT_AUTH,
 * but its own: a client presenting a dead token must not use up the sign-in and refresh calls of everyone behind
 * the same address). Once an address has spent it, a credential it presents that is refused is answered 429
 * (`req.credentialsThrottled`, sent by the access hook) instead of 401, with one audit record per window rather
 * than one per guess; valid credentials from that address still pass (a shared NAT must not lock out its
 * signed-in users), sign-in and refresh keep their own budget (`auth:ip:<addr>`), and anonymous reads go on.
 * Password guessing is held by the sign-in budget and by throttle.ts (per account and per address).
 */
function guardSignInBudget(app: FastifyInstance, store: Store, spec: RateLimitSpec, told: LRUCache<string, true>): void {
  const keyOf = (req: FastifyRequest) => `refused:${rateLimitSubject(req, 'auth')}`;
  const exempt = (req: FastifyRequest) => limitClassOf(req.method, req.url) === 'auth' || isInternalCall(req);
  app.addHook('onRequest', async (req) => {
    if (exempt(req) || (req.headers.authorization === undefined && sessionCookieOf(req.headers.cookie) === undefined)) return;
    const key = keyOf(req);
    const { current, ttl } = await promised((cb) => store.read(key, cb, spec.windowMs, spec.max)).catch(() => ({ current: 0, ttl: 0 }));
    if (current < spec.max) return;
    const retryAfter = Math.max(1, Math.ceil(ttl / 1000));
    const first = !told.has(key);
    if (first) told.set(key, true, { ttl: spec.windowMs });
    req.credentialsThrottled = {
      retryAfter, max: spec.max, first,
      detail: `too many refused credentials from this address: at most ${spec.max} per ${seconds(spec.windowMs)}; retry in ${retryAfter} s`,
    };
  });
  app.addHook('onResponse', async (req, reply) => {
    if (reply.statusCode !== 401 || exempt(req)) return;
    await promised((cb) => store.incr(keyOf(req), cb, spec.windowMs, spec.max)).catch((err: unknown) => { req.log.warn({ err }, 'rate limits: a refused credential was not counted'); });
  });
}
