import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { pino } from 'pino';
import { loadConfig } from '../platform/config.ts';
import { openDb, type Db } from '../platform/db.ts';
import { migrate } from '../platform/migrate.ts';
import { openCache } from '../platform/cache.ts';
import { getBa, listBas } from '../grid/ba-repository.ts';
import { HOUR_MS } from '../analytics/shared/hourly.ts';
import { backtest, type BacktestResult, type History } from '../analytics/forecast/forecast-model.ts';
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

export function formatBacktest(rows: readonly BacktestRow[]): string {
  const header = ['ba', 'target', 'data', 'days', 'hours', 'model', 'naive-1d', 'naive-7d', 'day 1: model', 'day 1: EIA DF', 'beats naive'];
  const lines = rows.map((r) => [r.ba, r.target, r.data, r.days, r.hours, pct(r.mapePct.model), pct(r.mapePct.naiveDay), pct(r.mapePct.naiveWeek), pct(r.mapePct.modelDayAhead), pct(r.mapePct.eiaDayAhead),
    r.mapePct.model === null ? '—' : r.mapePct.model < r.mapePct.naiveDay! && r.mapePct.model < r.mapePct.naiveWeek! ? 'yes' : 'NO'].map(String));
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cells: readonly string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  return ['MAPE % over 48-hour forecasts made at local midnight of each held-back day', fmt(header), ...lines.map(fmt)].join('\n') + '\n';
}

function printBacktest(rows: readonly BacktestRow[]): number {
  if (rows.length === 0) { process.stderr.write('nothing to backtest: no BA with enough history (two weeks before the held-back days)\n'); return 1; }
  process.stdout.write(formatBacktest(rows));
  return 0;
}

/** Backtests demand from EIA-930 CSV files (a file or a folder of `<BA>.csv`); the BA's time zone comes from the database. */
export async function backtestCsv(db: Db, target: string, opts: { ba?: string | undefined; days: number; trainDays: number }): Promise<BacktestRow[]> {
  const files = statSync(target).isDirectory() ? readdirSync(target).filter((f) => f.endsWith('.csv')).map((f) => path.join(target, f)) : [target];
  const wanted = opts.ba?.split(',').map((b) => b.trim().toUpperCase());
  const rows: BacktestRow[] = [];
  for (const file of files.sort()) {
    const code = path.basename(file, '.csv').toUpperCase();
    if (wanted && !wanted.includes(code)) continue;
    const ba = await getBa(db, code);
    if (!ba) { process.stderr.write(`skipping ${file}: no BA '${code}' (name files <BA code>.csv)\n`); continue; }
    const r = backtest(readDemandCsv(readFileSync(file, 'utf8')), ba.timeZone, { target: 'demand', testDays: opts.days, trainDays: opts.trainDays });
    rows.push({ ba: code, target: 'demand', data: path.basename(file), ...r });
  }
  return rows;
}

/** Backtests demand and consumption-based intensity from the stored history of the last days before `now`. */
export async function backtestStored(db: Db, opts: { ba?: string | undefined; days: number; trainDays?: number | undefined; label?: string }, now: Date): Promise<BacktestRow[]> {
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
      const r = backtest(h.history, ba.timeZone, { target, testDays: opts.days, trainDays: opts.trainDays ?? HISTORY_DAYS[target] });
      if (r.days > 0) rows.push({ ba: ba.code, target, data: opts.label ?? `stored (${h.source})`, ...r });
    }
  }
  return rows;
}

/**
 * Backtests recorded EIA-930 data (EIA v2 JSON responses or gridemissions wide CSV, a folder or one file):
 * replayed into a private in-memory database (never the configured one), then backtested up to its newest hour.
 */
export async function backtestReplay(target: string, opts: { ba?: string | undefined; days: number; trainDays?: number | undefined }): Promise<BacktestRow[]> {
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

export async function forecastBacktestCommand(opts: { ba?: string; days: string; trainDays?: string; csv?: string; replay?: string }): Promise<number> {
  const days = Number(opts.days);
  if (!Number.isInteger(days) || days < 1 || days > 365) throw new Error(`--days: expected 1..365, got '${opts.days}'`);
  const trainDays = opts.trainDays === undefined ? undefined : Number(opts.trainDays);
  if (trainDays !== undefined && (!Number.isInteger(trainDays) || trainDays < 21 || trainDays > 1500)) throw new Error(`--train-days: expected 21..1500, got '${opts.trainDays}'`);
  if (opts.replay) return printBacktest(await backtestReplay(opts.replay, { ba: opts.ba, days, trainDays }));
  const config = loadConfig();
  const db = await openDb({ databaseUrl: config.DATABASE_URL, dataDir: config.DATA_DIR });
  try {
    await migrate(db);
    const rows = opts.csv
      ? await backtestCsv(db, opts.csv, { ba: opts.ba, days, trainDays: trainDays ?? HISTORY_DAYS.demand })
      : await backtestStored(db, { ba: opts.ba, days, trainDays }, new Date());
    return printBacktest(rows);
  } finally {
    await db.close();
  }
}

export async function forecastRefreshCommand(opts: { ba?: string }): Promise<number> {
  const config = loadConfig();
  const logger = pino({ level: config.LOG_LEVEL }, pino.destination(2));
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
