import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import ExcelJS from 'exceljs';

/**
 * Builds GridPulse's location table — US ZIP code, county and state → the EIA-930 balancing
 * authorities (BAs) that serve it and its eGRID subregion — from public crosswalks (paths relative to
 * the shared data folder; provenance in docs/locations.md):
 *
 * - EPA Power Profiler ZIP table (eGRID2023): ZIP → the utilities serving it, the predominant one, and
 *   each utility's eGRID subregion.
 * - EIA-861 2019 Sales to Ultimate Customers: (utility, state) → BA code, for the wires company
 *   (Part A bundled, Part C delivery-only).
 * - PNNL TELL 2020 county → BA table (EIA-861 2020 based), and PNNL's 2018 county → utility → BA
 *   mapping for the counties TELL lacks and to rank a county's BAs by the sales of the utilities there.
 * - HUD-USPS ZIP → county crosswalk 2023 Q1 (residential address ratios): a ZIP whose utilities have no
 *   BA in EIA-861 (ERCOT wires companies, holding-company ids) takes its counties' BAs; it also gives
 *   each county its most common subregion.
 *
 * There is no published ZIP → EIA-930 BA table: every answer is this join, and a place served by
 * several BAs lists them all, the likeliest first, with the basis of the list.
 */
export type Basis = 'utility' | 'county' | 'subregion';
/** [state, eGRID subregion, predominant utility, BA codes (likeliest first), basis] */
export type ZipRow = [string, string, string, string[], Basis];
/** [county name, state, BA codes (likeliest first), eGRID subregion or ''] */
export type CountyRow = [string, string, string[], string];
/** [state name, BA codes (most sales first)] */
export type StateRow = [string, string[]];
export interface LocationTable {
  version: 1;
  sources: string[];
  zips: Record<string, ZipRow>;
  counties: Record<string, CountyRow>;
  states: Record<string, StateRow>;
}

export const SOURCES = [
  'geo/power_profiler_zip_egrid2023.csv',
  'geo/eia861_2019/Sales_Ult_Cust_2019.xlsx',
  'geo/tell_ba_service_territory_county_2020.csv',
  'geo/pnnl_county_utility_ba_mapping_2018.csv',
  'geo/hud_zip_county_2023q1.xlsx',
  'geo/egrid_xwalk_balancing_authority.csv',
] as const;

type Rec = Record<string, string>;
const csv = (file: string): Rec[] => parse(readFileSync(file), { columns: true, bom: true, skip_empty_lines: true, trim: true }) as Rec[];
/** County FIPS as 5 digits; TELL and PNNL write DC as the state-level code 11000 where HUD and Census use 11001. */
const fips = (v: string) => { const f = String(Math.trunc(Number(v))).padStart(5, '0'); return f === '11000' ? '11001' : f; };
/** Codes that are not EIA-930 BAs in these files. */
const NOT_A_BA = new Set(['', 'NA', 'Missing', 'MRO']);

async function sheetRows(file: string, sheet: string, headerRow: number): Promise<Rec[]> {
  const wb = new ExcelJS.Workbook();
  await wb.xlsx.readFile(file);
  const ws = wb.getWorksheet(sheet);
  if (!ws) throw new Error(`${file}: no sheet ${sheet}`);
  const header = (ws.getRow(headerRow).values as unknown[]).map((v) => String(v ?? '').split('\n')[0]!.trim());
  const out: Rec[] = [];
  ws.eachRow((row, n) => {
    if (n <= headerRow) return;
    const values = row.values as unknown[];
    const rec: Rec = {};
    header.forEach((h, i) => { if (h) rec[h] = values[i] === null || values[i] === undefined ? '' : String(values[i]).trim(); });
    out.push(rec);
  });
  return out;
}

/** Adds weight to a key of a tally. */
function tally<K>(m: Map<K, number>, k: K, w: number): void { m.set(k, (m.get(k) ?? 0) + w); }
const ranked = <K>(m: Map<K, number>): K[] => [...m].sort((a, b) => b[1] - a[1] || String(a[0]).localeCompare(String(b[0]))).map(([k]) => k);

export async function deriveLocationTable(dataDir: string): Promise<LocationTable> {
  const at = (f: string) => path.join(dataDir, f);

  // (utility, state) → BAs of its wires business; a utility's BAs in any state as a fallback
  const utilState = new Map<string, Set<string>>();
  const utilAny = new Map<string, Set<string>>();
  for (const r of await sheetRows(at(SOURCES[1]), 'States', 3)) {
    const ba = r['BA Code'] ?? '';
    if (!['A', 'C'].includes(r.Part ?? '') || NOT_A_BA.has(ba) || r['Utility Number'] === '99999') continue;
    for (const [m, k] of [[utilState, `${r['Utility Number']}|${r.State}`], [utilAny, r['Utility Number']!]] as const) {
      if (!m.has(k)) m.set(k, new Set());
      m.get(k)!.add(ba);
    }
  }

  // county → BAs (TELL 2020, else PNNL 2018), ranked by the sales of the utilities behind each BA
  const sales = new Map<string, Map<string, number>>();
  const pnnlCounty = new Map<string, { name: string; state: string; bas: Set<string> }>();
  for (const r of csv(at(SOURCES[3]))) {
    const f = fips(r.County_FIPS!);
    const ba = r.BA_Short_Name!;
    if (!pnnlCounty.has(f)) pnnlCounty.set(f, { name: r.County_Name!, state: r.State_Name!, bas: new Set() });
    if (NOT_A_BA.has(ba)) continue;
    pnnlCounty.get(f)!.bas.add(ba);
    if (!sales.has(f)) sales.set(f, new Map());
    tally(sales.get(f)!, ba, Math.max(0, Number(r.Total_Sales_MWh)) + 1);
  }
  const countyBas = new Map<string, { name: string; stateName: string; bas: string[] }>();
  for (const r of csv(at(SOURCES[2]))) {
    const f = fips(r.County_FIPS!);
    if (!countyBas.has(f)) countyBas.set(f, { name: r.County_Name!, stateName: r.State_Name!, bas: [] });
    if (!NOT_A_BA.has(r.BA_Code!)) countyBas.get(f)!.bas.push(r.BA_Code!);
  }
  for (const [f, c] of pnnlCounty) if (!countyBas.has(f) && c.bas.size) countyBas.set(f, { name: c.name, stateName: c.state, bas: [...c.bas] });
  for (const [f, c] of countyBas) {
    const w = sales.get(f);
    c.bas.sort((a, b) => (w?.get(b) ?? 0) - (w?.get(a) ?? 0) || a.localeCompare(b));
  }

  // ZIP → counties by residential share; county → state abbreviation
  const zipCounties = new Map<string, Array<[string, number]>>();
  const countyState = new Map<string, string>();
  for (const r of await sheetRows(at(SOURCES[4]), 'ZIP_COUNTY_032023', 1)) {
    if (!/^\d{5}$/.test(r.ZIP ?? '') || !/^\d{5}$/.test(r.COUNTY ?? '') || r.COUNTY === '99999') continue;
    const share = Number(r.RES_RATIO) || Number(r.TOT_RATIO) || 0;
    if (!zipCounties.has(r.ZIP!)) zipCounties.set(r.ZIP!, []);
    zipCounties.get(r.ZIP!)!.push([r.COUNTY!, share]);
    countyState.set(r.COUNTY!, r.USPS_ZIP_PREF_STATE!);
  }
  for (const list of zipCounties.values()) list.sort((a, b) => b[1] - a[1]);

  // eGRID's BA → subregion (empty for BAs spanning several): a county-based list puts first the BAs of the ZIP's own subregion
  const baSubregion = new Map(csv(at(SOURCES[5])).map((r) => [r['Balancing Authority Code']!, r.SUBRGN!]));

  // ZIPs
  const byZip = new Map<string, Rec[]>();
  for (const r of csv(at(SOURCES[0]))) {
    if (!byZip.has(r.zip!)) byZip.set(r.zip!, []);
    byZip.get(r.zip!)!.push(r);
  }
  const zips: Record<string, ZipRow> = {};
  const countySubregion = new Map<string, Map<string, number>>();
  for (const [zip, rows] of [...byZip].sort((a, b) => a[0].localeCompare(b[0]))) {
    rows.sort((a, b) => Number(b['Predominant Utility']) - Number(a['Predominant Utility']));
    const top = rows[0]!;
    const bas: string[] = [];
    for (const r of rows) {
      for (const ba of utilState.get(`${r.eiaid}|${r.state}`) ?? utilAny.get(r.eiaid!) ?? []) if (!bas.includes(ba)) bas.push(ba);
    }
    let basis: Basis = 'utility';
    if (bas.length === 0) {
      basis = 'county';
      for (const [county] of zipCounties.get(zip) ?? []) for (const ba of countyBas.get(county)?.bas ?? []) if (!bas.includes(ba)) bas.push(ba);
      const own = (ba: string) => (baSubregion.get(ba) === top.SUBRGN ? 0 : 1);
      bas.sort((a, b) => own(a) - own(b)); // stable: the county ranking stands within each group
    }
    if (bas.length === 0 && top.SUBRGN === 'ERCT') { basis = 'subregion'; bas.push('ERCO'); }
    zips[zip] = [top.state!, top.SUBRGN!, top.UtilName!, bas, basis];
    for (const [county, share] of zipCounties.get(zip) ?? []) {
      if (!countySubregion.has(county)) countySubregion.set(county, new Map());
      tally(countySubregion.get(county)!, top.SUBRGN!, share);
    }
  }

  const counties: Record<string, CountyRow> = {};
  const stateSales = new Map<string, Map<string, number>>();
  const stateNames = new Map<string, string>();
  for (const [f, c] of [...countyBas].sort((a, b) => a[0].localeCompare(b[0]))) {
    const state = countyState.get(f) ?? '';
    const sub = countySubregion.get(f);
    counties[f] = [c.name, state, c.bas, sub ? ranked(sub)[0]! : ''];
    if (!state) continue;
    stateNames.set(state, c.stateName);
    if (!stateSales.has(state)) stateSales.set(state, new Map());
    c.bas.forEach((ba, i) => tally(stateSales.get(state)!, ba, (sales.get(f)?.get(ba) ?? 1) / (i + 1)));
  }
  const states: Record<string, StateRow> = {};
  for (const [st, m] of [...stateSales].sort((a, b) => a[0].localeCompare(b[0]))) states[st] = [stateNames.get(st)!, ranked(m)];

  return { version: 1, sources: [...SOURCES], zips, counties, states };
}
