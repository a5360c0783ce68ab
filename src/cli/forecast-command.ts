import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { pino } from 'pino';
import { createLogger } from '../platform/log.ts';
import { loadConfig } from '../platform/config.ts';
import { openDb, type Db } from '../platform/db.ts';
import { migrate } from '../platform/migrate.ts';
import { openCache } from '../platform/cache.ts';
import { getBa, listBas } from '../grid/ba-repository.ts';
import { HOUR_MS } from '../analytics/shared/hourly.ts';
import type { History } from '../analytics/forecast/forecast-model.ts';
import { backtest, type BacktestResult } from '../analytics/forecast/backtest.ts';
import { pjmIntensityHistory, readPjmFuelCsv } from '../analytics/forecast/pjm-fuel.ts';
import { replayDir } from '../ingest/replay.ts';
import { HISTORY_DAYS, loadDemandHistory, loadIntensityHistories, refreshForecasts, type ForecastTarget } from '../analytics/forecast/forecast.ts';

const DAY_MS = 86_400_000;

/**
 * Parses an EIA-930 demand file of the form `date_time,demand (MW),forecast demand (MW)` (UTC, hour-ending,
 * as in the shared truggles extracts): shifted to hour starts; MISSING / EMPTY / blank cells become null;
 * absent hours are inserted as null so the result is consecutive.
 */
export function readDemandCsv(text: string): History {
  const byHour = new Map<number, [number | null, number | null]>();
  const num = (s: string | undefined) => {
    const v = s === undefined || s.trim() === '' ? NaN : Number(s);
    return Number.isFinite(v) ? v : null;
  };
  for (const line of text.trim().split(/\r?\n/).slice(1)) {
    const [when, d, f] = line.split(',');
    const end = Date.parse(`${when!.trim().replace(' ', 'T')}Z`);
    if (Number.isNaN(end)) continue;
    byHour.set(end - HOUR_MS, [num(d), num(f)]);
  }
  const times = [...byHour.keys()].sort((a, b) => a - b);
  const ts: Date[] = [];
  for (let t = times[0]!; t <= times.at(-1)!; t += HOUR_MS) ts.push(new Date(t));
  return { ts, y: ts.map((t) => byHour.get(t.getTime())?.[0] ?? null), df: ts.map((t) => byHour.get(t.getTime())?.[1] ?? null) };
}

export interface BacktestRow extends BacktestResult { ba: string; target: ForecastTarget; data: string }

const pct = (v: number | null) => (v === null ? '—' : v.toFixed(2));

/** "yes" when the served forecast beats both seasonal-naive references, "NO" otherwise. */
function verdict(c: { mapePct: Record<'served' | 'naiveDay' | 'naiveWeek', number | null> }): string {
  const { served, naiveDay, naiveWeek } = c.mapePct;
  if (served === null || naiveDay === null || naiveWeek === null) return '—';
  return served < naiveDay && served < naiveWeek ? 'yes' : 'NO';
}

/**
 * One line per BA and target over all lead times, then one per lead bucket (1-6, 7-24, 25-48 h): MAPE % of the
 * served forecast (the model, or seasonal naive where its validation fell back), the model alone, both naive
 * references, and, per bucket, how many origins each method served.
 */
export function formatBacktest(rows: readonly BacktestRow[]): string {
  const header = ['ba', 'target', 'data', 'days', 'origins', 'lead', 'hours', 'served', 'model', 'naive-1d', 'naive-7d', 'served by (model/1d/7d)', 'day 1: served', 'day 1: EIA DF', 'beats naive'];
  const lines = rows.flatMap((r) => [
    [r.ba, r.target, r.data, r.days, r.origins, 'all', r.hours, pct(r.mapePct.served), pct(r.mapePct.model), pct(r.mapePct.naiveDay), pct(r.mapePct.naiveWeek), '', pct(r.mapePct.modelDayAhead), pct(r.mapePct.eiaDayAhead), verdict(r)],
    ...r.byLead.map((c) => ['', '', '', '', '', c.lead, c.hours, pct(c.mapePct.served), pct(c.mapePct.model), pct(c.mapePct.naiveDay), pct(c.mapePct.naiveWeek),
      `${c.servedBy.model}/${c.servedBy.naiveDay}/${c.servedBy.naiveWeek}`, '', '', verdict(c)]),
  ].map((l) => l.map(String)));
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cells: readonly string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return ['MAPE % of 48-hour forecasts made at the origin hours of each held-back day, by lead time', fmt(header), ...lines.map(fmt)].join('\n') + '\n';
}

function printBacktest(rows: readonly BacktestRow[]): number {
  if (rows.length === 0) { process.stderr.write('nothing to backtest: no BA with enough history (two weeks before the held-back days)\n'); return 1; }
  process.stdout.write(formatBacktest(rows));
  return 0;
}

/** Backtests demand from EIA-930 CSV files (a file or a folder of `<BA>.csv`); the BA's time zone comes from the database. */
export async function backtestCsv(db: Db, target: string, opts: { ba?: string | undefined; days: number; trainDays: number; originHours?: readonly number[] | undefined }): Promise<BacktestRow[]> {
  const files = statSync(target).isDirectory() ? readdirSync(target).filter((f) => f.endsWith('.csv')).map((f) => path.join(target, f)) : [target];
  const wanted = opts.ba?.split(',').map((b) => b.trim().toUpperCase());
  const rows: BacktestRow[] = [];
  for (const file of files.sort()) {
    const code = path.basename(file, '.csv').toUpperCase();
    if (wanted && !wanted.includes(code)) continue;
    const ba = await getBa(db, code);
    if (!ba) { process.stderr.write(`skipping ${file}: no BA '${code}' (name files <BA code>.csv)\n`); continue; }
    const r = backtest(readDemandCsv(readFileSync(file, 'utf8')), ba.timeZone, { target: 'demand', testDays: opts.days, trainDays: opts.trainDays, originHours: opts.originHours });
    rows.push({ ba: code, target: 'demand', data: path.basename(file), ...r });
  }
  return rows;
}

/** Backtests demand and consumption-based intensity from the stored history of the last days before `now`. */
export async function backtestStored(db: Db, opts: { ba?: string | undefined; days: number; trainDays?: number | undefined; originHours?: readonly number[] | undefined; label?: string }, now: Date): Promise<BacktestRow[]> {
  const wanted = opts.ba?.split(',').map((b) => b.trim().toUpperCase());
  const bas = (await listBas(db)).filter((b) => !wanted || wanted.includes(b.code));
  const span = (target: ForecastTarget) => (opts.trainDays ?? HISTORY_DAYS[target]) + opts.days + 9;
  const end = new Date(Math.floor(now.getTime() / HOUR_MS) * HOUR_MS);
  const intensity = await loadIntensityHistories(db, new Date(end.getTime() - span('intensity') * DAY_MS), end);
  const rows: BacktestRow[] = [];
  for (const ba of bas) {
    const demand = ba.generationOnly ? undefined : await loadDemandHistory(db, ba, new Date(end.getTime() - span('demand') * DAY_MS), end);
    for (const [target, h] of [['demand', demand], ['intensity', intensity.get(ba.code)]] as const) {
      if (!h || !h.history.y.some((v) => v !== null)) continue;
      const r = backtest(h.history, ba.timeZone, { target, testDays: opts.days, trainDays: opts.trainDays ?? HISTORY_DAYS[target], originHours: opts.originHours });
      if (r.days > 0) rows.push({ ba: ba.code, target, data: opts.label ?? `stored (${h.source})`, ...r });
    }
  }
  return rows;
}

/**
 * Backtests recorded EIA-930 data (EIA v2 JSON responses or gridemissions wide CSV, a folder or one file):
 * replayed into a private in-memory database (never the configured one), then backtested up to its newest hour.
 */
export async function backtestReplay(target: string, opts: { ba?: string | undefined; days: number; trainDays?: number | undefined; originHours?: readonly number[] | undefined }): Promise<BacktestRow[]> {
  const db = await openDb({ dataDir: ':memory:' });
  try {
    await migrate(db);
    const r = await replayDir({ db, logger: pino({ level: 'warn' }, pino.destination(2)) }, target);
    if (r.errors.length) process.stderr.write(`replay: ${r.errors.join('; ')}\n`);
    const [newest] = await db.query<{ ts: Date | string | null }>(`SELECT max(ts) AS ts FROM observations WHERE value IS NOT NULL`);
    if (!newest?.ts) return [];
    return await backtestStored(db, { ...opts, label: path.basename(target) }, new Date(new Date(newest.ts).getTime() + HOUR_MS));
  } finally {
    await db.close();
  }
}

/** PJM's time zone (Eastern; PJM's own EPT timestamps agree). */
const PJM_TIME_ZONE = 'America/New_York';

/**
 * Backtests the intensity forecast on PJM's own hourly generation by fuel (PJM Data Miner 2 `gen_by_fuel`, read by
 * readPjmFuelCsv with PJM's categories mapped to EIA-930 codes): production-based lifecycle intensity of PJM as
 * one BA. Consumption-based intensity is not possible from this file (it has no interchange). Rejected rows and
 * conflicting duplicates are reported on stderr with their reasons; the good rows are used.
 */
export function backtestPjmFuel(file: string, opts: { days: number; trainDays?: number | undefined; originHours?: readonly number[] | undefined }): BacktestRow[] {
  const mix = readPjmFuelCsv(readFileSync(file, 'utf8'));
  for (const r of mix.rejected.slice(0, 20)) process.stderr.write(`${path.basename(file)}:${r.line}: rejected: ${r.reason}\n`);
  for (const c of mix.conflicts.slice(0, 20)) process.stderr.write(`${path.basename(file)}: ${c.ts.toISOString()} ${c.fuel} given as ${c.kept} and ${c.other}: kept ${c.kept}\n`);
  if (mix.rejected.length || mix.conflicts.length) process.stderr.write(`${path.basename(file)}: ${mix.rows} rows, ${mix.rejected.length} rejected, ${mix.conflicts.length} conflicting duplicates\n`);
  if (mix.ts.length === 0) return [];
  const r = backtest(pjmIntensityHistory(mix), PJM_TIME_ZONE, { target: 'intensity', testDays: opts.days, trainDays: opts.trainDays ?? HISTORY_DAYS.intensity, originHours: opts.originHours });
  return r.days > 0 ? [{ ba: 'PJM', target: 'intensity', data: `${path.basename(file)} (production-based)`, ...r }] : [];
}

/** `--origins-per-day n`: n origins evenly spread over the local day, from midnight (1 = midnight only). */
export function originHoursOf(value: string | undefined): number[] {
  const n = value === undefined ? 1 : Number(value);
  if (![1, 2, 3, 4, 6, 8, 12, 24].includes(n)) throw new Error(`--origins-per-day: expected one of 1, 2, 3, 4, 6, 8, 12, 24, got '${value}'`);
  return Array.from({ length: n }, (_, k) => (k * 24) / n);
}

export async function forecastBacktestCommand(opts: { ba?: string; days: string; trainDays?: string; csv?: string; replay?: string; pjmFuel?: string; originsPerDay?: string }): Promise<number> {
  const days = Number(opts.days);
  if (!Number.isInteger(days) || days < 1 || days > 365) throw new Error(`--days: expected 1..365, got '${opts.days}'`);
  const trainDays = opts.trainDays === undefined ? undefined : Number(opts.trainDays);
  if (trainDays !== undefined && (!Number.isInteger(trainDays) || trainDays < 21 || trainDays > 1500)) throw new Error(`--train-days: expected 21..1500, got '${opts.trainDays}'`);
  const originHours = originHoursOf(opts.originsPerDay);
  if ([opts.csv, opts.replay, opts.pjmFuel].filter(Boolean).length > 1) throw new Error('--csv, --replay and --pjm-fuel: give one of them');
  if (opts.pjmFuel) return printBacktest(backtestPjmFuel(opts.pjmFuel, { days, trainDays, originHours }));
  if (opts.replay) return printBacktest(await backtestReplay(opts.replay, { ba: opts.ba, days, trainDays, originHours }));
  const config = loadConfig();
  const db = await openDb({ databaseUrl: config.DATABASE_URL, dataDir: config.DATA_DIR });
  try {
    await migrate(db);
    const rows = opts.csv
      ? await backtestCsv(db, opts.csv, { ba: opts.ba, days, trainDays: trainDays ?? HISTORY_DAYS.demand, originHours })
      : await backtestStored(db, { ba: opts.ba, days, trainDays, originHours }, new Date());
    return printBacktest(rows);
  } finally {
    await db.close();
  }
}

export async function forecastRefreshCommand(opts: { ba?: string }): Promise<number> {
  const config = loadConfig();
  const logger = createLogger(config.LOG_LEVEL, pino.destination(2));
  const db = await openDb({ databaseUrl: config.DATABASE_URL, dataDir: config.DATA_DIR });
  const cache = await openCache(config.REDIS_URL);
  try {
    await migrate(db);
    const summary = await refreshForecasts({ db, logger, cache }, { bas: opts.ba?.split(',').map((b) => b.trim().toUpperCase()) });
    process.stdout.write(`made at ${summary.madeAt}: ${summary.stored} forecasts stored, ${summary.skipped.length} skipped, ${summary.failed.length} failed\n`);
    return summary.failed.length ? 1 : 0;
  } finally {
    await cache.close();
    await db.close();
  }
}
