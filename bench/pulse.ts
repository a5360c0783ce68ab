import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { listBas } from '../src/grid/ba-repository.ts';
import { loadSimulatedGrid } from '../src/ingest/simulated-grid.ts';
import { PointStore } from '../src/ingest/store-points.ts';
import type { EiaPoint } from '../src/ingest/eia-schema.ts';
import { dailyPulse } from '../src/analytics/daily/pulse.ts';
import { localDay, sameDateLastYear, addDays } from '../src/grid/local-day.ts';
import type { IntensityBasis } from '../src/analytics/intensity/intensity.ts';
import { openEngineDb, percentile } from './support.ts';

/**
 * Uncached Daily Pulse of one BA (CISO): the function behind GET /bas/{code}/pulse, reading the day, the
 * same weekday of the four weeks before and the same date a year earlier (six local days), on a store
 * holding a simulated grid of the first 11 BAs with demand (CISO among them) over those days. PGlite by default; PostgreSQL with DATABASE_URL
 * (in a throw-away schema). Prints p50/p95/max over 60 runs after 5 warm-up runs, for each intensity basis.
 * The simulated grid trades between the interconnected BAs it simulates together (src/grid/interconnections.ts),
 * so consumption-based tracing reads CISO's connected group among the 11; a last pass also links all 11 in a
 * chain of interchange (both sides reporting) so that it must read and trace every one of them.
 * Target: p95 < 50 ms.
 */

const DATE = '2025-08-14';
const RUNS = 60;
const H = 3_600_000;



const { db, drop } = await openEngineDb('bench_pulse');
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
  const measure = async (basis: IntensityBasis, label: string) => {
    for (let i = 0; i < 5; i++) await dailyPulse(db, 'CISO', { date: DATE, basis });
    const times: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const start = performance.now();
      const p = await dailyPulse(db, 'CISO', { date: DATE, basis });
      times.push(performance.now() - start);
      if (p?.hours !== 24 || p.demand.energyMwh === null) throw new Error('pulse without data: the bench is not measuring what it says');
    }
    process.stdout.write(`Daily Pulse CISO ${DATE} basis=${basis}${label}: p50 ${percentile(times, 50).toFixed(1)} ms, p95 ${percentile(times, 95).toFixed(1)} ms, max ${Math.max(...times).toFixed(1)} ms (target p95 < 50 ms)\n`);
  };
  for (const basis of ['production', 'consumption'] as IntensityBasis[]) await measure(basis, '');
  // Link the BAs in a chain, each exporting 50–150 MW to the one before it (CISO first), so CISO's imports carry all 11.
  const [{ first, last }] = await db.query<{ first: Date; last: Date }>('SELECT min(ts) AS first, max(ts) AS last FROM observations') as [{ first: Date; last: Date }];
  const points: EiaPoint[] = [];
  for (let t = new Date(first).getTime(); t <= new Date(last).getTime(); t += H) {
    for (let i = 0; i + 1 < all.length; i++) {
      const [a, b] = [all[i]!.code, all[i + 1]!.code];
      const mw = 50 * (1 + ((t / H + i) % 3));
      points.push({ route: 'interchange', ba: b, code: a, ts: new Date(t), value: mw }, { route: 'interchange', ba: a, code: b, ts: new Date(t), value: -mw });
    }
  }
  await new PointStore(db, logger, 'simulated').store(points);
  const probe = await dailyPulse(db, 'CISO', { date: DATE, basis: 'consumption' });
  const alone = await dailyPulse(db, 'CISO', { date: DATE, basis: 'production' });
  if (probe?.intensity.avg === alone?.intensity.avg) throw new Error('interchange did not change the consumption basis: the bench is not measuring what it says');
  await measure('consumption', `, ${all.length} BAs linked by interchange`);
} finally {
  await drop();
  await db.close();
}
