import type { AggregateLevel, EgridKind } from './egrid-repository.ts';
import { aggregateLevels } from './egrid-repository.ts';
import { AGGREGATE_PREFIX, canonicalCode, columnsOf, descriptiveCode, KEY_COLUMNS, type ColumnSpec } from './columns.ts';

/** A sheet's header as found: its kind, the row it is on, and what each column index holds. */
export interface SheetHeader {
  kind: EgridKind;
  /** 1-based line (CSV) or row (XLSX) of the code row. */
  line: number;
  /** Per column index: the store column it fills, or the eGRID code kept in `extra`/`measures`. */
  columns: ({ spec: ColumnSpec } | { extra: string } | null)[];
  /** Index of the YEAR column, if any. */
  yearIndex: number;
  /** Data year the header itself tells (SEQGEN20, "eGRID2016 …" in the descriptive row). */
  editionYear: number | undefined;
  /** A full sheet replaces its year's rows; a partial one (a few columns: a crosswalk, a summary table) merges into them. */
  mode: 'replace' | 'merge';
  /** The header was in words (EPA summary tables), not codes. */
  descriptive: boolean;
  /**
   * The store columns keying its rows (besides data_year): KEY_COLUMNS of the kind, except a plant
   * sheet without ORISPL but with SEQPLTyy, whose rows are keyed by eGRID's plant sequence number of
   * that edition (`seq`) and stored without ORISPL (migrations/0027_egrid_keys.sql).
   */
  keyColumns: string[];
}

export class HeaderError extends Error {}

const SCAN_ROWS = 6;
/** Columns whose presence makes a sheet a full one of its kind (else it is merged as partial). */
const FULL_SHEET: Record<EgridKind, string[]> = {
  plant: ['PLNGENAN', 'NAMEPCAP'], generator: ['NAMEPCAP', 'GENNTAN'], unit: ['HTIAN', 'CO2AN'],
  state: ['STNGENAN'], ba: ['BANGENAN'], subregion: ['SRNGENAN'], nerc: ['NRNGENAN'], us: ['USNGENAN'],
};

function kindOf(codes: Set<string>): EgridKind | undefined {
  if (codes.has('GENID')) return 'generator';
  if (codes.has('UNITID')) return 'unit';
  let best: { level: AggregateLevel; hits: number } | undefined;
  for (const level of aggregateLevels) {
    const p = AGGREGATE_PREFIX[level];
    const hits = [...codes].filter((code) => code.startsWith(p) && code.length > p.length + 2 && /^(?:NAMEPCAP|NGEN|HTI|CO2|NOX|SO2|GENA|NB)/.test(code.slice(p.length))).length;
    if (hits >= 3 && (!best || hits > best.hits)) best = { level, hits };
  }
  if (best) return best.level;
  const plantMeasures = [...codes].filter((code) => code.startsWith('PL')).length;
  if (codes.has('ORISPL') || plantMeasures >= 2) return 'plant';
  if (codes.has('SUBRGN')) return 'subregion';
  if (codes.has('NERC') && codes.has('NERCNAME')) return 'nerc';
  return undefined;
}

function cellText(v: unknown): string {
  return v === null || v === undefined ? '' : String(v);
}

/** Finds the code row among a sheet's first rows; `name` (sheet or file name) may tell the year. */
export function detectHeader(rows: { line: number; cells: unknown[] }[], name: string, fileName = name): SheetHeader {
  let titleYear: number | undefined;
  for (const row of rows.slice(0, SCAN_ROWS)) {
    const texts = row.cells.map(cellText);
    const title = texts.map((t) => /\beGRID\s?(20\d\d)\b/i.exec(t)).find(Boolean);
    if (title) titleYear = Number(title[1]);
    const canon = texts.map((t) => canonicalCode(t));
    // a code is one word (ORISPL, SRCO2RTA); the descriptive row above it ("Plant name") is not
    const codes = new Set(canon.map((x) => x.code).filter((code) => /^[A-Z][A-Z0-9]*$/.test(code)));
    let kind = kindOf(codes);
    let descriptive = false;
    let codeList = canon.map((x) => x.code);
    if (!kind) {
      const words = texts.map((t) => (t.trim() ? descriptiveCode(t) : ''));
      if (words.every((w) => w !== undefined) && words.includes('SUBRGN') && words.filter(Boolean).length >= 2) {
        kind = 'subregion';
        descriptive = true;
        codeList = words.map((w) => w ?? '');
      }
    }
    if (!kind) continue;
    const specs = new Map(columnsOf(kind).map((s) => [s.code, s]));
    const seen = new Set<string>();
    const columns = codeList.map((code): SheetHeader['columns'][number] => {
      if (!code || seen.has(code)) return null;
      seen.add(code);
      const spec = specs.get(code);
      if (spec) return { spec };
      if (code === 'YEAR' || /^SEQ/.test(code)) return null;
      return { extra: code };
    });
    const mapped = new Set(columns.flatMap((c) => (c && 'spec' in c ? [c.spec.column] : [])));
    const keyColumns = kind === 'plant' && !mapped.has('orispl') && mapped.has('seq') ? ['seq'] : KEY_COLUMNS[kind];
    const missingKeys = keyColumns.filter((k) => !mapped.has(k) && !(kind === 'us' && k === 'code'));
    if (missingKeys.length) {
      const codesOf = (col: string) => columnsOf(kind).find((s) => s.column === col)?.code ?? col;
      throw new HeaderError(`${name}: a ${kind} sheet needs the column ${missingKeys.map(codesOf).join(', ')} to key its rows, and it has none`);
    }
    const editionYear = canon.find((x) => x.editionYear)?.editionYear ?? titleYear ?? yearFromName(name) ?? yearFromName(fileName);
    const full = FULL_SHEET[kind].every((code) => codeList.includes(code));
    return { kind, line: row.line, columns, yearIndex: codeList.indexOf('YEAR'), editionYear, mode: full || keyColumns[0] === 'seq' ? 'replace' : 'merge', descriptive, keyColumns };
  }
  throw new HeaderError(`${name}: no eGRID header row (column codes such as ORISPL, GENID, UNITID, SRNGENAN) in its first ${SCAN_ROWS} rows`);
}

/** `egrid2021_…`, `eGRID2022 …`, `GEN21`, `PLNT22`, `SRL19`: the data year a file or sheet name tells. */
export function yearFromName(name: string): number | undefined {
  const full = /egrid[ _-]?(20\d\d)/i.exec(name);
  if (full) return Number(full[1]);
  const sheet = /(?:^|[^A-Za-z])(?:PLNT|UNT|GEN|ST|BA|SRL|NRL|US)(\d\d)(?:[^0-9]|$)/.exec(name);
  return sheet ? 2000 + Number(sheet[1]) : undefined;
}
