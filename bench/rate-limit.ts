import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { buildApp } from '../src/app.ts';
import { memoryCache } from '../src/platform/cache.ts';
import { listBas } from '../src/grid/ba-repository.ts';
import { loadSimulatedGrid } from '../src/ingest/simulated-grid.ts';
import type { RateLimitSettings } from '../src/auth/rate-limits.ts';
import { best, cannon, checked, type Cannon } from './http.ts';
import { dropBenchSchema, envInt, fmt, openBenchSchema, printTable } from './support.ts';

const SCHEMA = 'bench_rate_limit';

/** Limits that never refuse in the run (the bench measures the counting, not the refusals). */
const unreachable = (redisUrl?: string): RateLimitSettings => {
  const spec = { max: 1_000_000_000, windowMs: 3_600_000 };
  return { read: spec, write: spec, auth: spec, redisUrl, namespace: `gpbench:rl:${process.pid}:` };
};

/**
 * Throughput of a cached public route (`BENCH_RL_PATH`, default /api/v1/bas/CISO/now) at 100 connections with
 * the rate limits on (Redis store: one Lua INCR/PEXPIRE round trip per request; and the in-process store)
 * against the same app without limits (the reference), in alternating rounds, best of each. Every request
 * comes from one address, so each one updates the same counter (the hottest key). Without REDIS_URL the
 * Redis row is left out.
 */
export async function benchRateLimit(): Promise<void> {
  const seconds = envInt('BENCH_HTTP_SECONDS', 10);
  const connections = envInt('BENCH_HTTP_CONNECTIONS', 100);
  const rounds = envInt('BENCH_HTTP_ROUNDS', 2);
  const path = process.env.BENCH_RL_PATH ?? '/api/v1/bas/CISO/now';
  const redisUrl = process.env.REDIS_URL;
  const db = await openBenchSchema(SCHEMA, { fresh: true });
  const logger = pino({ level: 'warn' });
  const apps: Array<{ name: string; app: FastifyInstance; base: string; best?: Cannon }> = [];
  try {
    const bas = await listBas(db);
    await loadSimulatedGrid({ db, logger }, bas, new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000 - 48 * 3_600_000), 48);
    const variants: Array<[string, RateLimitSettings | undefined]> = [['no rate limits (reference)', undefined], ['rate limits, in-process store', unreachable()]];
    if (redisUrl) variants.push(['rate limits, Redis store', unreachable(redisUrl)]);
    for (const [name, rateLimits] of variants) {
      const app = await buildApp({ db, logger, cache: memoryCache(), rateLimits });
      const base = await app.listen({ port: 0, host: '127.0.0.1' });
      const res = await fetch(base + path);
      if (res.status !== 200) throw new Error(`${name}: ${path} answered ${res.status}`);
      await res.arrayBuffer();
      apps.push({ name, app, base });
    }
    for (const a of apps) await cannon(a.base + path, connections, 2); // warm each server's JIT and cache
    for (let round = 0; round < rounds; round++) {
      for (const a of apps) a.best = best(a.best, checked(a.name, await cannon(a.base + path, connections, seconds)));
    }
    const ref = apps[0]!.best!;
    printTable(`Rate limits on a cached public route (${path}) at ${connections} connections, best of ${rounds} alternating ${seconds}-s rounds, one client address`,
      ['server', 'req/s', 'p50 ms', 'p99 ms', 'ratio (req/s vs no limits)'],
      apps.map((a) => [a.name, fmt(a.best!.requests.average), fmt(a.best!.latency.p50), fmt(a.best!.latency.p99), fmt(a.best!.requests.average / ref.requests.average, 2)]));
    if (!redisUrl) console.log('(REDIS_URL not set: the Redis store was not measured)');
  } finally {
    for (const a of apps) await a.app.close();
    await dropBenchSchema(db, SCHEMA);
    await db.close();
  }
}
