import { loadConfig } from '../platform/config.ts';
import { openDb, type Db } from '../platform/db.ts';
import { migrate } from '../platform/migrate.ts';
import { parseInstant } from '../platform/instant.ts';
import { HOUR_MS } from '../grid/time.ts';
import { getBa } from '../grid/ba-repository.ts';
import { marketOfFormat, parsePriceFile } from '../fleet/prices/price-files.ts';
import { marketOfPriceSeries, planningPriceSeries, priceSeriesKey, readPrices } from '../fleet/prices/price-repository.ts';
import { isCalendarDate, localMidnight } from '../grid/local-day.ts';
import { checkNodeOption, parseMarketOption, readOptionFile } from './prices-command.ts';
import { parseTimeZoneOption } from './markets-command.ts';
import { tariffPrices, type Tariff } from '../fleet/prices/tariff.ts';
import { pjmIntensityHistory, readPjmFuelCsv } from '../analytics/forecast/pjm-fuel.ts';
import { persistenceForecast, runBacktest, type BacktestResult, type Outcome } from '../fleet/optimizer/backtest.ts';
import { intensityFromStore, type IntensityInputs } from '../fleet/optimizer/intensity-source.ts';
import { RULE_DESCRIPTION } from '../fleet/optimizer/rule.ts';
import type { Battery } from '../fleet/optimizer/lp.ts';

export interface BacktestOptions {
  prices?: string; node?: string; from?: string; to?: string; ba?: string; battery?: string; load?: string;
  carbonPrice?: string; json?: boolean; adders?: string; export?: string; degradation?: string; intensity?: string;
  pareto?: string; timeZone?: string; save?: boolean; dayAhead?: string; market?: string;
}

/** What a backtest was run on (printed and stored with it). */
export interface BacktestParams {
  prices: string; from: string; to: string; timeZone: string;
  /** why the first planned hour is not the --from asked for (the prices start later), when it is not */
  firstHourNote?: string; battery: Battery & { roundTripEfficiency: number };
  load: string; tariff: string; carbonPrice: number; degradationCost: number; intensitySource: string; pricesKnown: string;
}

export interface BacktestReport extends BacktestResult {
  params: BacktestParams;
  /** carbon price sweep: cost and CO2 of the optimized plans at each carbon price ($/t) */
  pareto?: Array<{ carbonPrice: number; cost: number; co2Kg: number | null }>;
}

const DEFAULT_BATTERY = 'capacity=13.5,power=5,efficiency=0.9';

/** `capacity=13.5,power=5,efficiency=0.9[,reserve=1.35][,soc=…]`: kWh, kW, round-trip fraction. */
export function parseBattery(text: string): Battery & { roundTripEfficiency: number; initialSoCKWh?: number } {
  const fields = new Map<string, number>();
  for (const part of text.split(',')) {
    const [k, v] = part.split('=').map((s) => s.trim());
    const n = Number(v);
    if (!k || v === undefined || v === '' || !Number.isFinite(n)) throw new RangeError(`--battery: "${part}" is not name=number`);
    if (!['capacity', 'power', 'efficiency', 'reserve', 'soc'].includes(k)) throw new RangeError(`--battery: unknown field "${k}" (capacity, power, efficiency, reserve, soc)`);
    fields.set(k, n);
  }
  const capacity = fields.get('capacity') ?? 13.5, power = fields.get('power') ?? 5, eff = fields.get('efficiency') ?? 0.9;
  if (!(capacity > 0 && capacity <= 100_000)) throw new RangeError('--battery: capacity must be > 0 kWh');
  if (!(power > 0 && power <= 100_000)) throw new RangeError('--battery: power must be > 0 kW');
  if (!(eff > 0 && eff <= 1)) throw new RangeError('--battery: efficiency (round trip) must be in (0, 1]');
  const reserve = fields.get('reserve') ?? 0;
  if (!(reserve >= 0 && reserve <= capacity)) throw new RangeError('--battery: reserve must be within [0, capacity] kWh');
  const oneWay = Math.sqrt(eff);
  const soc = fields.get('soc');
  return { capacityKWh: capacity, powerKW: power, chargeEfficiency: oneWay, dischargeEfficiency: oneWay, reserveKWh: reserve, roundTripEfficiency: eff, ...(soc !== undefined ? { initialSoCKWh: soc } : {}) };
}

/**
 * `--from` / `--to`: a date (YYYY-MM-DD) is the local midnight starting that day in the market's time zone (the day's
 * first hour); an instant is floored to its hour. A one-line error naming the option otherwise.
 */
function instant(name: string, text: string, timeZone: string): Date {
  if (/^\d{4}-\d{2}-\d{2}$/.test(text)) {
    if (!isCalendarDate(text)) throw new RangeError(`${name}: '${text}' is not a real calendar date`);
    return localMidnight(text, timeZone);
  }
  const p = parseInstant(text);
  if ('error' in p) throw new RangeError(`${name}: ${p.error}`);
  return new Date(Math.floor(p.ms / HOUR_MS) * HOUR_MS);
}

function number(name: string, text: string | undefined, fallback: number, min: number, max: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || n < min || n > max) throw new RangeError(`${name} must be a number from ${min} to ${max}`);
  return n;
}

/** Load per hour (kW): `constant:KW`, or a CSV `ts,kw` (hour starts with offset); hours the file lacks take its mean. */
function loadFor(spec: string, hours: readonly Date[]): { kw: number[]; text: string } {
  if (spec.startsWith('constant:')) {
    const kwText = spec.slice('constant:'.length), kw = Number(kwText);
    if (kwText.trim() === '' || !Number.isFinite(kw) || kw < 0 || kw > 100_000) throw new RangeError(`--load: constant:KW takes a load from 0 to 100000 kW, got '${kwText}'`);
    return { kw: hours.map(() => kw), text: `constant ${kw} kW` };
  }
  const lines = readOptionFile('--load', spec).split(/\r?\n/).filter((l) => l.trim());
  const header = (lines[0] ?? '').split(',').map((s) => s.trim().toLowerCase());
  const ti = header.indexOf('ts'), ki = header.indexOf('kw');
  if (ti < 0 || ki < 0) throw new RangeError(`--load ${spec}: expected a header ts,kw`);
  const byHour = new Map<number, number>();
  for (const line of lines.slice(1)) {
    const cells = line.split(',');
    const p = parseInstant((cells[ti] ?? '').trim());
    const v = Number(cells[ki]);
    if ('ms' in p && Number.isFinite(v)) byHour.set(Math.floor(p.ms / HOUR_MS) * HOUR_MS, v);
  }
  const mean = byHour.size ? [...byHour.values()].reduce((s, v) => s + v, 0) / byHour.size : 0;
  const kw = hours.map((h) => byHour.get(h.getTime()) ?? mean);
  const missing = hours.filter((h) => !byHour.has(h.getTime())).length;
  return { kw, text: `${spec}${missing ? ` (${missing} hours absent, at its mean ${mean.toFixed(2)} kW)` : ''}` };
}

/** Consecutive runs of priced hours (a backtest cannot plan across a gap in the prices). */
function segments(hours: readonly number[]): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let start = 0;
  for (let i = 1; i <= hours.length; i++) {
    if (i === hours.length || hours[i]! - hours[i - 1]! !== HOUR_MS) { out.push([start, i]); start = i; }
  }
  return out;
}

const sum = (a: Outcome, b: Outcome): Outcome => ({
  cost: a.cost + b.cost, throughputKWh: a.throughputKWh + b.throughputKWh,
  co2Kg: a.co2Kg === null || b.co2Kg === null ? null : a.co2Kg + b.co2Kg,
});

async function withDb<T>(need: boolean, f: (db: Db | undefined) => Promise<T>): Promise<T> {
  if (!need) return f(undefined);
  const config = loadConfig();
  const db = await openDb({ databaseUrl: config.DATABASE_URL, dataDir: config.DATA_DIR });
  try {
    await migrate(db);
    return await f(db);
  } finally {
    await db.close();
  }
}

/**
 * `gridpulse optimize backtest`: replays a past period hour by hour (src/fleet/optimizer/backtest.ts) on a price
 * file (`--prices`, plain CSV or PJM Data Miner) or a stored price series (`--node`), and prints — or with `--json`
 * emits — noBattery, rule, optimized and perfect (each cost $ and co2Kg), savingsPct and pctOfPerfect; `--pareto`
 * adds a sweep over carbon prices. Exit 0; errors (bad flags, unknown series, empty period) throw.
 */
export async function optimizeBacktestCommand(opts: BacktestOptions): Promise<number> {
  if (!opts.prices === !opts.node) throw new RangeError('give --prices FILE or --node NAME (one of them)');
  const market = parseMarketOption(opts.market);
  if (market && !opts.node) throw new RangeError('--market: picks a stored series with --node (a file says its market by its columns)');
  if (opts.ba !== undefined && !/^[A-Za-z0-9_-]{2,16}$/.test(opts.ba)) throw new RangeError(`--ba: a balancing authority code such as PJM, got '${opts.ba}'`);
  if (opts.timeZone !== undefined) parseTimeZoneOption(opts.timeZone);
  const batteryAll = parseBattery(opts.battery ?? DEFAULT_BATTERY);
  const { initialSoCKWh, roundTripEfficiency, ...battery } = batteryAll;
  const carbonPrice = number('--carbon-price', opts.carbonPrice, 0, 0, 10_000);
  const degradationCost = number('--degradation', opts.degradation, 0, 0, 10);
  const adders = number('--adders', opts.adders, 0, -10, 10);
  const exportSpec = opts.export ?? 'same';
  const tariffBase = exportSpec === 'same' ? { kind: 'same' as const } : exportSpec === 'none' ? { kind: 'none' as const } : { kind: 'fixed' as const, rate: number('--export', exportSpec, 0, -10, 10) };
  const pareto = opts.pareto ? opts.pareto.split(',').map((v) => number('--pareto', v.trim(), 0, 0, 10_000)) : undefined;
  const report = await withDb(Boolean(opts.node || opts.ba || opts.save), async (db) => {
    const ba = opts.ba ? opts.ba.toUpperCase() : undefined;
    let timeZone = opts.timeZone === undefined ? 'America/New_York' : parseTimeZoneOption(opts.timeZone);
    if (db && ba) {
      const row = await getBa(db, ba);
      if (!row) throw new RangeError(`--ba: unknown balancing authority '${ba}'`);
      if (!opts.timeZone) timeZone = row.timeZone;
    }
    // prices ($/MWh), hour by hour
    let points: Array<{ ts: number; price: number }>;
    let pricesText: string;
    let from = opts.from ? instant('--from', opts.from, timeZone) : undefined;
    let to = opts.to ? instant('--to', opts.to, timeZone) : undefined;
    if (from && to && to <= from) throw new RangeError(`--to: the range is empty: --to ${to.toISOString()} is not after --from ${from.toISOString()}`);
    const asked = from;
    // a real-time tariff planned on the day-ahead prices published for the same hours
    let dayAhead: Map<number, number> | undefined;
    if (opts.prices) {
      const file = parsePriceFile(readOptionFile('--prices', opts.prices));
      points = file.points.map((p) => ({ ts: p.ts.getTime(), price: p.price }));
      pricesText = `${opts.prices} (${file.format}${file.node ? `, ${file.node}` : ''}; ${file.superseded} superseded rows skipped, ${file.rejected.length} rejected)`;
    } else {
      if (!db) throw new Error('unreachable');
      if (!from || !to) throw new RangeError('--node needs --from and --to');
      if (!opts.node!.includes('.')) checkNodeOption(opts.node!);
      const key = opts.node!.includes('.') ? opts.node! : priceSeriesKey(ba ?? 'PJM', opts.node!, market ?? 'da');
      if (market && marketOfPriceSeries(key) !== market) throw new RangeError(`--market: the series ${key} is ${marketOfPriceSeries(key) === 'rt' ? 'real-time' : 'day-ahead'}`);
      const values = await readPrices(db, key, from, to);
      if (!values) throw new RangeError(`--node: no price series '${key}' (import one with gridpulse prices import)`);
      points = values.flatMap((v, i) => (v === null ? [] : [{ ts: from!.getTime() + i * HOUR_MS, price: v }]));
      pricesText = `stored series ${key}`;
      // a real-time series is paid; plans are made on the node's day-ahead series, published a day ahead
      if (marketOfPriceSeries(key) === 'rt' && !opts.dayAhead) {
        const planKey = planningPriceSeries(key);
        const planned = await readPrices(db, planKey, from, to);
        if (planned) {
          dayAhead = new Map(planned.flatMap((v, i) => (v === null ? [] : [[from!.getTime() + i * HOUR_MS, v] as [number, number]])));
          points = points.filter((p) => dayAhead!.has(p.ts));
          pricesText += ` (real-time, paid); plans made on the day-ahead series ${planKey} (hours without one left out)`;
        } else pricesText += ` (real-time); WARNING: no day-ahead series ${planKey}: real-time prices planned as if published a day ahead (optimistic)`;
      }
    }
    if (opts.dayAhead) {
      const da = parsePriceFile(readOptionFile('--day-ahead', opts.dayAhead));
      if (marketOfFormat(da.format) === 'rt') throw new RangeError(`--day-ahead: ${opts.dayAhead} is a PJM real-time (total_lmp_rt) export`);
      dayAhead = new Map(da.points.map((p) => [p.ts.getTime(), p.price]));
      points = points.filter((p) => dayAhead!.has(p.ts));
      pricesText += `; plans made on the day-ahead prices of ${opts.dayAhead} (hours without one left out)`;
    } else if (pricesText.includes('pjm-rt')) {
      pricesText += '; WARNING: real-time prices planned as if published a day ahead (optimistic): give --day-ahead FILE';
    }
    if (from) points = points.filter((p) => p.ts >= from!.getTime());
    if (to) points = points.filter((p) => p.ts < to!.getTime());
    if (points.length === 0) throw new RangeError(`${opts.prices ? '--prices' : '--node'}: no priced hours in ${from ? from.toISOString() : 'the start'} → ${to ? to.toISOString() : 'the end'}`);
    from = new Date(points[0]!.ts); to = new Date(points.at(-1)!.ts + HOUR_MS);
    // the prices may start later than asked: say so rather than start silently at another hour
    const firstHourNote = asked && from.getTime() > asked.getTime()
      ? `first planned hour ${from.toISOString()}, not --from ${asked.toISOString()}: the prices hold no hour before it in the range` : undefined;
    if (firstHourNote) process.stderr.write(`backtest: ${firstHourNote}\n`);
    const hours = points.map((p) => new Date(p.ts));
    const tariff: Tariff = { kind: 'dynamic', priceSeries: 'backtest', adders, exportCredit: tariffBase };
    const priced = tariffPrices(tariff, hours, points.map((p) => p.price));
    const planned = dayAhead ? tariffPrices(tariff, hours, points.map((p) => dayAhead!.get(p.ts)!)) : undefined;
    const load = loadFor(opts.load ?? 'constant:1', hours);
    // intensity: the store (as made), else a PJM fuel-mix file, else none
    let intensity: IntensityInputs | undefined;
    if (opts.intensity) {
      const h = pjmIntensityHistory(readPjmFuelCsv(readOptionFile('--intensity', opts.intensity)));
      const byHour = new Map(h.ts.map((t, i) => [t.getTime(), h.y[i] ?? null]));
      const lead = 48;
      const withHistory = Array.from({ length: hours.length + lead }, (_, i) => byHour.get(from!.getTime() + (i - lead) * HOUR_MS) ?? null);
      const persistence = persistenceForecast(withHistory);
      intensity = {
        actual: withHistory.slice(lead), forecast: (t, k) => persistence(t + lead, k + lead),
        source: `${opts.intensity}: PJM production-based intensity from its own fuel mix (lifecycle factors); plans used a persistence forecast (same hour of the last observed day), as GridPulse stores no forecasts for that period`,
      };
    } else if (db && ba) intensity = await intensityFromStore(db, ba, from, to);
    const intensitySource = intensity?.source ?? (ba ? `${ba}: no intensities stored for the period: CO2 not counted` : 'no --ba or --intensity: CO2 not counted');
    const run = async (carbon: number, quiet: boolean): Promise<BacktestResult> => {
      let total: BacktestResult | undefined;
      const segs = segments(points.map((p) => p.ts));
      for (const [a, b] of segs) {
        const idx = (arr: number[] | null) => (arr ? arr.slice(a, b) : null);
        const r = await runBacktest({
          hours: hours.slice(a, b), importPrice: priced.importPrice.slice(a, b), exportPrice: idx(priced.exportPrice),
          ...(planned ? { planImportPrice: planned.importPrice.slice(a, b), planExportPrice: idx(planned.exportPrice) } : {}),
          loadKW: load.kw.slice(a, b), intensity: intensity ? intensity.actual.slice(a, b) : null,
          intensityForecast: intensity ? (t, k) => intensity!.forecast(t + a, k + a) : undefined,
          battery, initialSoCKWh: initialSoCKWh ?? battery.reserveKWh, timeZone, carbonPrice: carbon, degradationCost,
        }, quiet ? undefined : (done, n) => { if (done % (24 * 30) === 0 || done === n) process.stderr.write(`backtest: ${hours[a + done - 1]!.toISOString().slice(0, 10)} (${done}/${n} h of segment ${a}–${b})\n`); });
        total = total ? {
          ...total, hours: total.hours + r.hours, noBattery: sum(total.noBattery, r.noBattery), rule: sum(total.rule, r.rule),
          optimized: { ...sum(total.optimized, r.optimized), fallbackHours: total.optimized.fallbackHours + r.optimized.fallbackHours },
          perfect: sum(total.perfect, r.perfect),
        } : r;
      }
      const t = total!;
      const saved = t.noBattery.cost - t.optimized.cost, best = t.noBattery.cost - t.perfect.cost;
      return { ...t, savingsPct: t.noBattery.cost ? (saved / Math.abs(t.noBattery.cost)) * 100 : 0, pctOfPerfect: best > 0 ? (saved / best) * 100 : 100, intensitySource };
    };
    const result = await run(carbonPrice, false);
    const params: BacktestParams = {
      prices: pricesText, from: from.toISOString(), to: to.toISOString(), timeZone, ...(firstHourNote ? { firstHourNote } : {}),
      battery: { ...battery, roundTripEfficiency }, load: load.text,
      tariff: `dynamic: hourly price / 1000 + ${adders} $/kWh; export credit ${exportSpec === 'same' ? 'the same price' : exportSpec === 'none' ? 'none' : `${exportSpec} $/kWh`}`,
      carbonPrice, degradationCost, intensitySource,
      pricesKnown: 'each local day\'s prices known from 12:00 local time the day before (day-ahead publication); plans look at most 48 h ahead',
    };
    const out: BacktestReport = { ...result, params };
    if (pareto) {
      out.pareto = [];
      for (const c of pareto) {
        const r = await run(c, true);
        out.pareto.push({ carbonPrice: c, cost: r.optimized.cost, co2Kg: r.optimized.co2Kg });
        process.stderr.write(`pareto: carbon price ${c} $/t done\n`);
      }
    }
    if (db && opts.save) await db.query('INSERT INTO optimizer_backtests (params, result) VALUES ($1::text::jsonb, $2::text::jsonb)', [JSON.stringify(params), JSON.stringify(out)]);
    return out;
  });
  process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : formatBacktest(report));
  return 0;
}

const money = (v: number) => `$${v.toFixed(2)}`;
const kg = (v: number | null) => (v === null ? '—' : `${v.toFixed(1)} kg`);

/** The human-readable backtest report. */
export function formatBacktest(r: BacktestReport): string {
  const p = r.params;
  const lines = [
    `backtest ${p.from} → ${p.to} (${r.hours} h, ${p.timeZone}) on ${p.prices}`,
    ...(p.firstHourNote ? [p.firstHourNote] : []),
    `battery ${p.battery.capacityKWh} kWh / ${p.battery.powerKW} kW, round trip ${(p.battery.roundTripEfficiency * 100).toFixed(0)} %; load ${p.load}`,
    `tariff ${p.tariff}; carbon price ${p.carbonPrice} $/t; degradation ${p.degradationCost} $/kWh`,
    `prices known: ${p.pricesKnown}`,
    `intensity: ${p.intensitySource}`,
    `rule: ${RULE_DESCRIPTION}`,
    '',
    'plan          cost        CO2           throughput',
    ...(['noBattery', 'rule', 'optimized', 'perfect'] as const).map((k) =>
      `${k.padEnd(12)}  ${money(r[k].cost).padStart(10)}  ${kg(r[k].co2Kg).padStart(12)}  ${r[k].throughputKWh.toFixed(0).padStart(8)} kWh`),
    '',
    `savingsPct ${r.savingsPct.toFixed(1)} % (optimized vs no battery); pctOfPerfect ${r.pctOfPerfect.toFixed(1)} %`
      + (r.optimized.fallbackHours ? `; the solver failed in ${r.optimized.fallbackHours} h, where the rule planned` : ''),
  ];
  if (r.pareto) {
    lines.push('', 'carbon price ($/t)   cost        CO2');
    for (const q of r.pareto) lines.push(`${String(q.carbonPrice).padStart(18)}   ${money(q.cost).padStart(10)}  ${kg(q.co2Kg).padStart(12)}`);
  }
  return `${lines.join('\n')}\n`;
}
