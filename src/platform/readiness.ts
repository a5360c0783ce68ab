import type { FastifyInstance } from 'fastify';
import type { Metrics } from './metrics.ts';
import type { Db } from './db.ts';
import type { Cache } from './cache.ts';
import { pendingMigrations } from './migrate.ts';

/**
 * A dependency check: resolves when the dependency serves, resolves `{ degraded: why }` when it serves only in
 * part (a fallback is answering), throws when it does not serve.
 */
export type Check = (signal: AbortSignal) => Promise<void | { degraded: string }>;

export interface CheckOptions {
  /** Whether the role cannot serve without it (a failure makes /readyz 503); else a failure is reported as degraded. Default true. */
  critical?: boolean;
  /** A check that has not answered after this long has failed (milliseconds, default 2000). */
  timeoutMs?: number;
}

export type CheckStatus = 'ok' | 'degraded' | 'down';

export interface ReadinessReport {
  /** ready: every check ok; degraded: serving, some dependency down or in fallback; not_ready: a critical dependency is down. */
  status: 'ready' | 'degraded' | 'not_ready';
  /** the role answering (web, worker, gateway) */
  role: string;
  /** the registry's facts, e.g. `database: 'postgres' | 'pglite'` */
  [fact: string]: unknown;
  /** each check by name: its status, how long it took (ms) and, unless ok, why */
  checks: Record<string, { status: CheckStatus; critical: boolean; ms: number; detail?: string }>;
  /** names of the checks that are not ok, critical ones first */
  failed: string[];
}

/**
 * The readiness checks of one process (a registry: each role, and each adapter it opens, adds its own; the fleet's
 * gateway adds the broker). `report()` runs them all at once, each under its timeout, and sets
 * `gridpulse_dependency_up{dependency}` (1 ok, 0.5 degraded, 0 down) when metrics are given; it also runs before
 * each scrape of those metrics, so the gauge (and GridPulseDependencyDown) does not depend on anyone calling /readyz.
 */
export class Readiness {
  private readonly checks = new Map<string, { check: Check; critical: boolean; timeoutMs: number }>();
  private readonly up;

  readonly role: string;
  private readonly facts: Record<string, string>;

  /** `facts`: fixed fields added to every report (e.g. `database: 'postgres'`). */
  constructor(role: string, metrics?: Metrics, facts: Record<string, string> = {}) {
    this.role = role;
    this.facts = facts;
    this.up = metrics?.gauge('gridpulse_dependency_up', 'readiness of each dependency at the last /readyz or scrape: 1 ok, 0.5 degraded (a fallback serves), 0 down', ['dependency']);
    metrics?.addCollector('readiness', async () => { await this.report(); });
  }

  /** Adds (or replaces) the check `name` (database, cache, broker, replica, eia, …). */
  add(name: string, check: Check, opts: CheckOptions = {}): this {
    this.checks.set(name, { check, critical: opts.critical ?? true, timeoutMs: opts.timeoutMs ?? 2000 });
    return this;
  }

  async report(): Promise<ReadinessReport> {
    const entries = await Promise.all([...this.checks].map(async ([name, c]) => {
      const started = performance.now();
      const signal = AbortSignal.timeout(c.timeoutMs);
      let status: CheckStatus = 'ok';
      let detail: string | undefined;
      try {
        const timedOut = new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(new Error(`no answer within ${c.timeoutMs} ms`)), { once: true }));
        const r = await Promise.race([c.check(signal), timedOut]);
        if (r && 'degraded' in r) { status = 'degraded'; detail = r.degraded; }
      } catch (err) {
        status = 'down';
        detail = (err as Error).message;
      }
      this.up?.set({ dependency: name }, status === 'ok' ? 1 : status === 'degraded' ? 0.5 : 0);
      return [name, { status, critical: c.critical, ms: Math.round(performance.now() - started), ...(detail ? { detail } : {}) }] as const;
    }));
    const checks = Object.fromEntries(entries);
    const failed = entries.filter(([, r]) => r.status !== 'ok').sort(([, a], [, b]) => Number(b.critical) - Number(a.critical)).map(([n]) => n);
    const notReady = entries.some(([, r]) => r.critical && r.status === 'down');
    return { ...this.facts, status: notReady ? 'not_ready' : failed.length ? 'degraded' : 'ready', role: this.role, checks, failed };
  }
}

/**
 * GET /readyz: the report as JSON, 200 when ready or degraded (still serving: keep it in the load balancer,
 * but the body and `gridpulse_dependency_up` say what is wrong), 503 when a critical dependency is down.
 */
export function readinessRoute(app: FastifyInstance, readiness: Readiness): void {
  app.get('/readyz', { schema: { hide: true }, config: { access: { public: true } } }, async (_req, reply) => {
    const report = await readiness.report();
    return reply.code(report.status === 'not_ready' ? 503 : 200).header('cache-control', 'no-store').send(report);
  });
}

/** The database check of every role: reachable, and every migration applied (else it throws, naming them). */
export function databaseCheck(db: Db): Check {
  return async () => {
    const pending = await pendingMigrations(db);
    if (pending.length) throw new Error(`migrations pending: ${pending.join(', ')}`);
  };
}

/**
 * The readiness every role shares: the database (critical: reachable and every migration applied) and the cache
 * (not critical: with Redis down answers are computed afresh and rate limits fall back to each process, so
 * it is reported degraded).
 */
export function coreReadiness(role: string, db: Db, cache: Cache, metrics?: Metrics): Readiness {
  return new Readiness(role, metrics, { database: db.kind })
    .add('database', databaseCheck(db))
    .add('cache', async () => {
      try { await cache.ping?.(); } catch (err) { return { degraded: `${cache.kind} unreachable, serving uncached: ${(err as Error).message}` }; }
    }, { critical: false });
}
