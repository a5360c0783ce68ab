import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { openDb, type Db } from '../src/platform/db.ts';
import { migrate } from '../src/platform/migrate.ts';
import { listBas } from '../src/grid/ba-repository.ts';
import { loadSimulatedGrid } from '../src/ingest/simulated-grid.ts';
import { dailyPulse } from '../src/analytics/pulse.ts';
import { localDay, sameDateLastYear, addDays } from '../src/grid/local-day.ts';
import type { IntensityBasis } from '../src/analytics/intensity.ts';
import { dropBenchSchema, openBenchSchema, percentile } from './support.ts';

/**
 * Uncached Daily Pulse of one BA (CISO): the function behind GET /bas/{code}/pulse, reading the day, the
 * same weekday of the four weeks before and the same date a year earlier (six local days), on a store
 * holding a simulated grid of the first 11 BAs with demand (CISO among them) over those days. PGlite by default; PostgreSQL with DATABASE_URL
 * (in a throw-away schema). Prints p50/p95/max over 60 runs after 5 warm-up runs, for each intensity basis.
 * Target: p95 < 50 ms.
 */

const DATE = '2025-08-14';
const RUNS = 60;
const H = 3_600_000;

const SCHEMA = `bench_pulse_${process.pid}`;

async function openBenchDb(): Promise<{ db: Db; drop: () => Promise<void> }> {
  if (!process.env.DATABASE_URL) {
    const db = await openDb({ dataDir: ':memory:' });
    await migrate(db);
    return { db, drop: async () => {} };
  }
  const db = await openBenchSchema(SCHEMA, { fresh: true });
  return { db, drop: () => dropBenchSchema(db, SCHEMA) };
}

const { db, drop } = await openBenchDb();
try {
  const logger = pino({ level: 'warn' });
  const listed = await listBas(db);
  const bas = listed.filter((b) => !b.generationOnly).slice(0, 11);
  const ciso = listed.find((b) => b.code === 'CISO')!;
  const all = [ciso, ...bas.filter((b) => b.code !== 'CISO')];
  const t0 = performance.now();
  const recent = localDay(addDays(DATE, -29), ciso.timeZone).from;
  await loadSimulatedGrid({ db, logger }, all, recent, 31 * 24);
  await loadSimulatedGrid({ db, logger }, all, new Date(localDay(sameDateLastYear(DATE), ciso.timeZone).from.getTime() - 24 * H), 72);
  const [{ rows }] = await db.query<{ rows: number }>('SELECT count(*)::int AS rows FROM observations') as [{ rows: number }];
  process.stdout.write(`${db.kind}: ${rows} observations of ${all.length} BAs loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  for (const basis of ['production', 'consumption'] as IntensityBasis[]) {
    for (let i = 0; i < 5; i++) await dailyPulse(db, 'CISO', { date: DATE, basis });
    const times: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const start = performance.now();
      const p = await dailyPulse(db, 'CISO', { date: DATE, basis });
      times.push(performance.now() - start);
      if (p?.hours !== 24 || p.demand.energyMwh === null) throw new Error('pulse without data: the bench is not measuring what it says');
    }
    process.stdout.write(`Daily Pulse CISO ${DATE} basis=${basis}: p50 ${percentile(times, 50).toFixed(1)} ms, p95 ${percentile(times, 95).toFixed(1)} ms, max ${Math.max(...times).toFixed(1)} ms (target p95 < 50 ms)\n`);
  }
} finally {
  await drop();
  await db.close();
}
