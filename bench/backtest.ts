import { performance } from 'node:perf_hooks';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { openDb } from '../src/platform/db.ts';
import { migrate } from '../src/platform/migrate.ts';
import { listBas } from '../src/grid/ba-repository.ts';
import { loadSimulatedGrid } from '../src/ingest/simulated-grid.ts';
import { HISTORY_DAYS } from '../src/analytics/forecast/forecast.ts';
import { backtestCsv, backtestPjmFuel, backtestReplay, backtestStored, formatBacktest } from '../src/cli/forecast-command.ts';

/**
 * Forecast backtest figures: 48-hour forecasts made at local midnight of each of the last 28 days (PJM: at 00, 06,
 * 12 and 18 EPT of each of 100 days), MAPE by lead time (1-6, 7-24, 25-48 h) against seasonal naive (same hour of
 * the last observed day; same hour a week earlier) and EIA's own day-ahead forecast.
 * 1. Demand on real EIA-930 data (../shared/data/eia930/demand_2015_2019, 2015-07..2019-08, 120 training days).
 * 2. Carbon intensity on real EIA-930 fuel mix: PACW's recorded fuel-type-data responses, 2024-01-01..02-11
 *    (the only real fuel-mix history in the shared data longer than the model's two-week minimum; the
 *    gridemissions file covers every BA but only ten days), replayed through ingestion and flow tracing.
 * 3. Carbon intensity on PJM's own hourly generation by fuel, 2025-01-01..06-02 (../shared/data/iso_ops/pjm;
 *    PJM's fuel categories mapped to EIA-930 codes; production-based, as the file has no interchange).
 * 4. Demand and consumption-based intensity on the simulated grid.
 */

const DAYS = Number(process.argv[2] ?? 28);
const shared = path.resolve(fileURLToPath(new URL('../../shared/data/eia930/demand_2015_2019', import.meta.url)));
const pacw = path.resolve(fileURLToPath(new URL('../../shared/data/eia930/v2_json/pacw_2024', import.meta.url)));
const pjm = path.resolve(fileURLToPath(new URL('../../shared/data/iso_ops/pjm/pjm_gen_by_fuel_2025-01-01_to_2025-06-02.csv', import.meta.url)));
/** 100 days leave every origin its full 35 training days within the file's 152 days. */
const PJM_DAYS = 100;
const db = await openDb({ dataDir: ':memory:' });
try {
  await migrate(db);
  if (existsSync(shared)) {
    const t = performance.now();
    process.stdout.write(`Real EIA-930 demand (${shared})\n`);
    process.stdout.write(formatBacktest(await backtestCsv(db, shared, { days: DAYS, trainDays: HISTORY_DAYS.demand })));
    process.stdout.write(`(${((performance.now() - t) / 1000).toFixed(1)} s)\n\n`);
    const t2 = performance.now();
    process.stdout.write(`Real EIA-930 fuel mix, intensity (${pacw})\n`);
    process.stdout.write(formatBacktest(await backtestReplay(pacw, { days: DAYS })));
    process.stdout.write(`(${((performance.now() - t2) / 1000).toFixed(1)} s)\n\n`);
    const t3 = performance.now();
    process.stdout.write(`PJM's own fuel mix, production-based intensity (${pjm})\n`);
    process.stdout.write(formatBacktest(backtestPjmFuel(pjm, { days: PJM_DAYS, originHours: [0, 6, 12, 18] })));
    process.stdout.write(`(${((performance.now() - t3) / 1000).toFixed(1)} s)\n\n`);
  } else {
    process.stdout.write(`no shared data at ${shared}: real-data backtest skipped\n\n`);
  }
  const codes = ['CISO', 'ERCO', 'PJM', 'BPAT'];
  const bas = (await listBas(db)).filter((b) => codes.includes(b.code));
  const now = new Date(Date.UTC(2025, 7, 15));
  const days = HISTORY_DAYS.intensity + DAYS + 10;
  await loadSimulatedGrid({ db, logger: pino({ level: 'warn' }) }, bas, new Date(now.getTime() - days * 86_400_000), days * 24);
  const t = performance.now();
  process.stdout.write(`Simulated grid (${codes.join(', ')}; demand trained on ${HISTORY_DAYS.intensity} days here, as much as was loaded)\n`);
  process.stdout.write(formatBacktest(await backtestStored(db, { days: DAYS, trainDays: HISTORY_DAYS.intensity }, now)));
  process.stdout.write(`(${((performance.now() - t) / 1000).toFixed(1)} s)\n`);
} finally {
  await db.close();
}
