/**
 * Derives the scale of the simulated grid (src/ingest/simulated-scale.ts) from the real public data in
 * ../shared/data, so that every simulated balancing authority is about as large as the real one, with its
 * real generation mix. Method and sources: docs/simulated-grid-scale.md.
 *
 *   node scripts/derive-simulated-scale.ts [DATA_DIR]          (default ../shared/data beside the repository) writes src/ingest/simulated-scale.ts
 *   node scripts/derive-simulated-scale.ts --check [DATA_DIR]  exits 1 if the committed table differs
 *
 * The table is committed (the simulator must run without ../shared/data); src/ingest/simulated-scale.test.ts
 * re-derives it and fails when the committed one differs.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseGridemissionsCsv } from '../src/ingest/gridemissions.ts';
import { readDemandCsv } from '../src/cli/forecast-command.ts';
import { quantile } from '../src/analytics/forecast/forecast-model.ts';
import type { BaScale } from '../src/ingest/simulated-scale-type.ts';
import { sharedDataDir } from '../test/support/shared-data.ts';

const GRIDEMISSIONS = 'eia930/gridemissions/E_raw_2021-07-10_2021-07-20.csv';
const EBA_RAW = 'eia930/gridemissions/EBA_raw.csv';
const DEMAND_DIR = 'eia930/demand_2015_2019';
const DEMAND_FILES = ['BPAT', 'CISO', 'ISNE', 'MISO', 'NYIS', 'PJM', 'SOCO', 'SWPP', 'TVA', 'US48'];
const GEN21 = 'egrid/egrid2021_GEN21.csv';
const GEN23 = 'egrid/egrid2023_GEN23.csv';
const WINDOW = 'EIA-930, 2021-07-10..20 (gridemissions E_raw)';

/**
 * BAs that the gridemissions file does not carry, and how each is scaled instead (all documented in
 * docs/simulated-grid-scale.md). eGRID's generator sheets carry no BA code and no plant sheet here covers
 * these plants, so each plant is named by its ORIS code with the reason it belongs to the BA.
 */
const SUCCESSORS: Readonly<Record<string, readonly string[]>> = {
  // SPP RTO West took over WAPA's Rocky Mountain and Upper Great Plains West BAs (EIA retired both on 2026-03-31)
  SWPW: ['WACM', 'WAUW'],
};
/**
 * `measured`: where EIA-930 recorded the BA's generation after all: EEI's own NG in the legacy EBA file
 * (2015-07-01), GLHB's exports as its neighbours reported them in the gridemissions file.
 */
const PLANTS: Readonly<Record<string, { oris: number; sheet: string; why: string; measured?: 'eba' | 'partners' }>> = {
  // Electric Energy, Inc. was the BA of its Joppa Steam plant (ORIS 887, retired 2022)
  EEI: { oris: 887, sheet: GEN21, why: "Joppa Steam (ORIS 887), EEI's plant", measured: 'eba' },
  // GridLiance Heartland took over EEI's area in 2020 (OGE BA reference: generation-only, 2020-02-29..2022-09-01), i.e. Joppa
  GLHB: { oris: 887, sheet: GEN21, why: 'Joppa Steam (ORIS 887), in GridLiance Heartland since 2020', measured: 'partners' },
  // Sikeston Board of Municipal Utilities reports to EIA-930 since 2025 as a generation-only BA: its Sikeston Power Station
  SIKE: { oris: 6768, sheet: GEN23, why: 'Sikeston Power Station (ORIS 6768)' },
};

/** eGRID primary fuel (FUELG1) → EIA-930 fuel code; anything not listed is OTH (biomass, waste, other gases). */
const EGRID_FUEL: Readonly<Record<string, string>> = {
  BIT: 'COL', SUB: 'COL', LIG: 'COL', ANT: 'COL', RC: 'COL', WC: 'COL', SGC: 'COL',
  NG: 'NG', DFO: 'OIL', RFO: 'OIL', JF: 'OIL', KER: 'OIL', WO: 'OIL', PC: 'OIL',
  NUC: 'NUC', WAT: 'WAT', SUN: 'SUN', WND: 'WND',
};

const round = (v: number) => Math.round(v) + 0;
const mean = (v: readonly number[]) => v.reduce((a, b) => a + b, 0) / v.length;
const p98 = (v: readonly number[]) => quantile(v, 0.98);

/** Splits one CSV line, honouring double quotes (eGRID's Excel exports quote "1,234"). */
function csvCells(line: string): string[] {
  const cells: string[] = [];
  let cell = '';
  let quoted = false;
  for (const c of line) {
    if (c === '"') quoted = !quoted;
    else if (c === ',' && !quoted) { cells.push(cell); cell = ''; } else cell += c;
  }
  cells.push(cell);
  return cells;
}

/** eGRID numbers: `1234.5`, `"1,234.5"`, `(1,234)` (negative), empty = null. */
function egridNumber(cell: string | undefined): number | null {
  const s = (cell ?? '').trim().replace(/,/g, '');
  if (s === '') return null;
  const neg = /^\((.*)\)$/.exec(s);
  const v = Number(neg ? neg[1] : s);
  return Number.isFinite(v) ? (neg ? -v : v) : null;
}

/** Median demand of each calendar month relative to July's, over every year of an EIA-930 demand file. */
function seasonOf(text: string): number[] {
  const { ts, y } = readDemandCsv(text);
  const months = Array.from({ length: 12 }, () => [] as number[]);
  ts.forEach((t, i) => { const v = y[i]; if (v !== null && v !== undefined && v > 0) months[t.getUTCMonth()]!.push(v); });
  const medians = months.map((m) => quantile(m, 0.5));
  return medians.map((m) => Math.round((m / medians[6]!) * 1000) / 1000);
}

interface Hourly { [series: string]: Map<number, number> }

/** Every non-null value of the gridemissions file by BA and series (D, NG, TI, fuel codes, `→<BA>` for interchange). */
function readGridemissions(text: string): Map<string, Hourly> {
  const out = new Map<string, Hourly>();
  for (const p of parseGridemissionsCsv(text).points) {
    if (p.value === null) continue;
    const key = p.route === 'interchange' ? `→${p.code}` : p.route === 'fuel' ? `fuel:${p.code}` : p.code;
    let ba = out.get(p.ba);
    if (!ba) out.set(p.ba, (ba = {}));
    (ba[key] ??= new Map()).set(p.ts.getTime(), p.value);
  }
  return out;
}

function stats(series: Hourly, source: string, season: { season: number[]; seasonSource: string }): BaScale {
  const values = (key: string) => [...(series[key]?.values() ?? [])];
  const d = values('D');
  const ng = values('NG');
  const fuels: Record<string, number> = {};
  for (const key of Object.keys(series).filter((k) => k.startsWith('fuel:')).sort()) {
    const m = round(Math.max(0, mean(values(key))));
    if (m > 0) fuels[key.slice(5)] = m;
  }
  const sun = values('fuel:SUN');
  return {
    demandMean: d.length ? round(mean(d)) : null,
    demandPeak: d.length ? round(p98(d)) : null,
    generationMean: round(mean(ng)),
    generationPeak: round(p98(ng)),
    fuels,
    solarPeak: sun.length ? round(Math.max(0, p98(sun))) : 0,
    ...season,
    source,
  };
}

/** Sums hourly series of several BAs, hour by hour, over the hours all of them report. */
function sumOf(parts: readonly Hourly[]): Hourly {
  const out: Hourly = {};
  for (const key of new Set(parts.flatMap((p) => Object.keys(p)))) {
    if (key.startsWith('→')) continue;
    const withKey = parts.filter((p) => p[key]);
    const hours = [...withKey[0]![key]!.keys()].filter((h) => withKey.every((p) => p[key]!.has(h)));
    out[key] = new Map(hours.map((h) => [h, withKey.reduce((s, p) => s + p[key]!.get(h)!, 0)]));
  }
  return out;
}

/** One plant's generators in an eGRID generator sheet: mean MW by EIA fuel (annual MWh / 8,760 h) and nameplate MW. */
function plantOf(text: string, oris: number): { fuels: Record<string, number>; nameplate: number; year: string } {
  const lines = text.split(/\r?\n/);
  const header = csvCells(lines[1]!).map((h) => h.trim());
  const col = (name: string) => header.findIndex((h) => h === name || h === `${name}23`);
  const [orisAt, fuelAt, capAt, genAt, yearAt] = [col('ORISPL'), col('FUELG1'), col('NAMEPCAP'), col('GENNTAN'), col('YEAR')];
  const fuels: Record<string, number> = {};
  let nameplate = 0;
  let year = '';
  for (const line of lines.slice(2)) {
    const cells = csvCells(line);
    if (egridNumber(cells[orisAt]) !== oris) continue;
    const fuel = EGRID_FUEL[cells[fuelAt]!.trim()] ?? 'OTH';
    fuels[fuel] = (fuels[fuel] ?? 0) + Math.max(0, egridNumber(cells[genAt]) ?? 0) / 8760;
    nameplate += egridNumber(cells[capAt]) ?? 0;
    year = cells[yearAt]!.trim();
  }
  if (nameplate === 0) throw new Error(`plant ${oris} not found`);
  return { fuels, nameplate, year };
}

/** The table, by BA code (sorted), from the real data under `dataDir`. */
export function deriveSimulatedScale(dataDir: string): Record<string, BaScale> {
  const read = (file: string) => readFileSync(path.join(dataDir, file), 'utf8');
  const seasons = new Map(DEMAND_FILES.map((ba) => [ba, seasonOf(read(`${DEMAND_DIR}/${ba}.csv`))]));
  const seasonFor = (ba: string) => seasons.has(ba)
    ? { season: seasons.get(ba)!, seasonSource: `EIA-930 demand of ${ba}, 2015-07..2019-08 (truggles ${ba}.csv)` }
    : { season: seasons.get('US48')!, seasonSource: 'EIA-930 demand of the lower 48, 2015-07..2019-08 (truggles US48.csv): no file for this BA' };
  const grid = readGridemissions(read(GRIDEMISSIONS));
  const table: Record<string, BaScale> = {};
  for (const [ba, series] of grid) {
    if (!series.NG) continue; // a BA that appears only as an interchange partner (Canadian, Mexican, retired)
    table[ba] = stats(series, WINDOW, seasonFor(ba));
  }
  for (const [ba, parts] of Object.entries(SUCCESSORS)) {
    table[ba] = stats(sumOf(parts.map((p) => grid.get(p)!)), `${WINDOW}: the sum of ${parts.join(' and ')}, the BAs it took over`, seasonFor(ba));
  }
  for (const [ba, { oris, sheet, why, measured }] of Object.entries(PLANTS)) {
    const plant = plantOf(read(sheet), oris);
    const total = Object.values(plant.fuels).reduce((a, b) => a + b, 0);
    const shares = (level: number) => Object.fromEntries(Object.entries(plant.fuels).filter(([, v]) => round((v / total) * level) > 0).map(([f, v]) => [f, round((v / total) * level)]));
    const ng = measured === 'eba' ? ebaNetGeneration(read(EBA_RAW), ba) : measured === 'partners' ? exportsTo(grid, ba) : [];
    const eia = ng.length > 0;
    const generationMean = eia ? round(mean(ng)) : round(total);
    table[ba] = {
      demandMean: null,
      demandPeak: null,
      generationMean,
      generationPeak: eia ? round(p98(ng)) : round(plant.nameplate),
      fuels: shares(generationMean),
      solarPeak: 0,
      ...seasonFor(ba),
      source: eia
        ? `${measured === 'eba' ? 'EIA-930 NG, 2015-07-01 (gridemissions EBA_raw)' : `${WINDOW}: its neighbours' interchange with it`}; fuels from eGRID${plant.year} ${why}`
        : `eGRID${plant.year} ${why}: annual net generation / 8,760 h, peak = nameplate`,
    };
  }
  return Object.fromEntries(Object.keys(table).sort().map((k) => [k, table[k]!]));
}

/** A BA's net generation in the legacy EBA wide file (`EBA.<BA>-ALL.NG.H`). */
function ebaNetGeneration(text: string, ba: string): number[] {
  const [header, ...rows] = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  const at = csvCells(header!).indexOf(`EBA.${ba}-ALL.NG.H`);
  return rows.map((r) => egridNumber(csvCells(r)[at])).filter((v): v is number => v !== null);
}

/** What a BA that is only an interchange partner in the file exports, hour by hour: minus the sum of its neighbours' flows to it. */
function exportsTo(grid: Map<string, Hourly>, ba: string): number[] {
  const flows = [...grid.values()].map((s) => s[`→${ba}`]).filter((m): m is Map<number, number> => m !== undefined);
  const hours = [...flows[0]!.keys()].filter((h) => flows.every((f) => f.has(h)));
  return hours.map((h) => -flows.reduce((s, f) => s + f.get(h)!, 0));
}

/** The committed module's text for a table. */
export function renderScaleModule(table: Record<string, BaScale>): string {
  const rows = Object.entries(table).map(([ba, s]) => `  ${ba}: ${JSON.stringify(s)},`);
  return `// Generated by scripts/derive-simulated-scale.ts from ../shared/data; do not edit (re-run the script).
import type { BaScale } from './simulated-scale-type.ts';

/**
 * The scale of each simulated balancing authority, derived from real public data (method:
 * docs/simulated-grid-scale.md): mean and 98th-percentile demand and net generation (MW), mean generation by
 * EIA fuel code (MW), the solar midday level, and demand by month relative to July. Most rows are EIA-930's
 * 10–20 July 2021 (gridemissions E_raw file); a BA that file lacks is scaled from its predecessors or its eGRID
 * plants, as its \`source\` says. BAs with no row (Canadian and Mexican BAs: EIA-930 carries only their
 * interchange with US BAs) are not simulated.
 */
export type { BaScale } from './simulated-scale-type.ts';

export const SIMULATED_SCALE: Readonly<Record<string, BaScale>> = {
${rows.join('\n')}
};
`;
}

export const SCALE_MODULE = fileURLToPath(new URL('../src/ingest/simulated-scale.ts', import.meta.url));

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const check = args.includes('--check');
  const dataDir = args.find((a) => a !== '--check') ?? sharedDataDir;
  const text = renderScaleModule(deriveSimulatedScale(dataDir));
  if (check) {
    const same = readFileSync(SCALE_MODULE, 'utf8') === text;
    process.stdout.write(same ? 'simulated-scale.ts is up to date\n' : 'simulated-scale.ts differs from the data: re-run scripts/derive-simulated-scale.ts\n');
    process.exitCode = same ? 0 : 1;
  } else {
    writeFileSync(SCALE_MODULE, text);
    process.stdout.write(`wrote ${SCALE_MODULE}\n`);
  }
}
