import { pino } from 'pino';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { buildApp } from '../src/app.ts';
import { memoryCache } from '../src/platform/cache.ts';
import { openDb } from '../src/platform/db.ts';
import { migrate } from '../src/platform/migrate.ts';
import { startTracing } from '../src/platform/tracing.ts';
import { envInt, fmt, loadAverage } from './support.ts';

/**
 * Cost of tracing: GET /readyz (two spans' worth of work: the request and its database query, on PGlite in memory)
 * through app.inject, BENCH_TRACE_REQUESTS times (default 2000), with tracing off (the reference: no provider, the
 * helpers are plain calls) and on (every span recorded to an in-memory exporter, emptied as it goes), alternating
 * rounds (BENCH_TRACE_ROUNDS, default 3), best of each. Prints requests/s and the ratio on/off.
 */
export async function benchTracing(): Promise<void> {
  const n = envInt('BENCH_TRACE_REQUESTS', 2000);
  const rounds = envInt('BENCH_TRACE_ROUNDS', 3);
  const db = await openDb({ dataDir: ':memory:' });
  await migrate(db);
  const run = async (): Promise<number> => {
    // the app is built per round: HTTP spans are hooked in at build time, when tracing is on
    const app = await buildApp({ db, logger: pino({ level: 'silent' }), cache: memoryCache() });
    for (let i = 0; i < 200; i++) await app.inject('/readyz');
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      const res = await app.inject('/readyz');
      if (res.statusCode !== 200) throw new Error(`/readyz answered ${res.statusCode}`);
    }
    const perSecond = n / ((performance.now() - t0) / 1000);
    await app.close();
    return perSecond;
  };
  let off = 0;
  let on = 0;
  for (let r = 0; r < rounds; r++) {
    off = Math.max(off, await run());
    const exporter = new InMemorySpanExporter();
    const tracing = startTracing({ role: 'bench', exporters: [exporter] })!;
    const drain = setInterval(() => exporter.reset(), 100);
    try { on = Math.max(on, await run()); } finally { clearInterval(drain); await tracing.shutdown(); }
  }
  await db.close();
  console.log(`tracing: GET /readyz ×${n}, best of ${rounds}: off ${fmt(off)} req/s, on ${fmt(on)} req/s, ratio on/off ${fmt(on / off, 2)} (${loadAverage()})`);
}
