import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { listBas } from '../src/grid/ba-repository.ts';
import { loadSimulatedGrid } from '../src/ingest/simulated-grid.ts';
import { forecastAccuracy } from '../src/analytics/forecast/forecast.ts';
import { loadBaHours } from '../src/analytics/shared/hourly.ts';
import { hourlyIntensity } from '../src/analytics/intensity/intensity.ts';
import { openEngineDb, percentile } from './support.ts';

/**
 * Uncached GET /bas/{code}/forecast/accuracy for CISO with a week of hourly forecast runs of both targets
 * (336 runs × 48 points) over 17 simulated days of CISO and six western neighbours (every scored hour has its
 * week-before naive reference). The reference, timed in the same run, is what it must read and derive: the
 * forecast rows, CISO's demand, and its consumption-based intensity (the linked BAs' columns read and traced).
 * The ratio is the cost of scoring on top.
 * PGlite by default; PostgreSQL with DATABASE_URL (a throw-away schema). 20 runs after 3 warm-up runs.
 */
const H = 3_600_000;
const RUNS = 20;
const DAYS = 17;


async function sample(fn: () => Promise<unknown>): Promise<{ p50: number; p95: number }> {
  for (let k = 0; k < 3; k++) await fn();
  const times: number[] = [];
  for (let k = 0; k < RUNS; k++) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  return { p50: percentile(times, 50), p95: percentile(times, 95) };
}

const { db, drop } = await openEngineDb('bench_accuracy');
try {
  const end = Math.floor(Date.now() / H) * H;
  const bas = (await listBas(db)).filter((b) => ['CISO', 'BANC', 'BPAT', 'PACW', 'NEVP', 'AZPS', 'LDWP'].includes(b.code));
  await loadSimulatedGrid({ db, logger: pino({ level: 'warn' }) }, bas, new Date(end - DAYS * 24 * H), DAYS * 24);
  for (let r = 0; r < 168; r++) {
    const dataThrough = new Date(end - (169 - r) * H);
    const madeAt = new Date(dataThrough.getTime() + 100 * 60_000);
    for (const target of ['demand', 'intensity']) {
      await db.query(`INSERT INTO forecast_runs (ba_code, target, made_at, model, source, data_through, train_rows) VALUES ('CISO', $1, $2, 'bench', 'simulated', $3, 1)`, [target, madeAt, dataThrough]);
      await db.query(`INSERT INTO forecasts (ba_code, target, made_at, ts, value, low, high, model)
        SELECT 'CISO', $1, $2, $3::timestamptz + g * interval '1 hour', 300, 250, 350, 'bench' FROM generate_series(1, 48) g`, [target, madeAt, dataThrough]);
    }
  }
  const check = await forecastAccuracy(db, 'CISO', 7);
  const since = new Date(end - 7 * 24 * H);
  const work = await sample(() => forecastAccuracy(db, 'CISO', 7));
  const from = new Date(end - DAYS * 24 * H);
  const to = new Date(end + H);
  const reference = await sample(() => Promise.all([
    db.query(`SELECT target, made_at, ts, value FROM forecasts WHERE ba_code = 'CISO' AND made_at >= $1 AND ts < $2`, [since, to]),
    loadBaHours(db, 'CISO', from, to, ['demand']),
    hourlyIntensity(db, 'CISO', from, to, 'consumption', 'lifecycle'),
  ]));
  const engine = process.env.DATABASE_URL ? 'PostgreSQL' : 'PGlite';
  console.log(`forecast accuracy, CISO, 7 days of hourly runs (${check!.targets.demand.all.hours + check!.targets.intensity.all.hours} forecast hours scored), ${engine}`);
  console.log(`  forecastAccuracy: p50 ${work.p50.toFixed(1)} ms, p95 ${work.p95.toFixed(1)} ms`);
  console.log(`  reference (the same reads and trace, no scoring): p50 ${reference.p50.toFixed(1)} ms, p95 ${reference.p95.toFixed(1)} ms`);
  console.log(`  ratio p50: ${(work.p50 / reference.p50).toFixed(2)}×`);
} finally {
  await drop();
  await db.close();
}
