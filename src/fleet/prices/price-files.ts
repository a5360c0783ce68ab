import { readFile } from 'node:fs/promises';
import { parse } from 'csv-parse/sync';
import { parsePjmUtc } from '../../analytics/forecast/pjm-fuel.ts';
import { ISO_DATETIME, HOUR_MS } from '../../grid/time.ts';
import { parseInstant } from '../../platform/instant.ts';

/** One hourly price: `ts` the UTC start of the hour, `price` in $/MWh (negative prices are real). */
export interface PricePoint { ts: Date; price: number }

export type PriceFileFormat = 'csv' | 'pjm-da' | 'pjm-rt';

/** The market a file's format names (PJM's total_lmp_da → `da`, total_lmp_rt → `rt`); undefined for a plain CSV. */
export const marketOfFormat = (format: PriceFileFormat): 'da' | 'rt' | undefined => (format === 'pjm-da' ? 'da' : format === 'pjm-rt' ? 'rt' : undefined);

export interface PriceRejection { line: number; reason: string }

/** A parsed price file: points in time order, one per UTC hour; what was skipped and why. */
export interface PriceFile {
  format: PriceFileFormat;
  /** the node named inside the file (PJM `pnode_name`), when it names one */
  node: string | null;
  points: PricePoint[];
  /** PJM rows with row_is_current = False (superseded by a later version): skipped */
  superseded: number;
  rejected: PriceRejection[];
  /** an hour given twice with different prices: the first (current) one is kept */
  conflicts: number;
}

const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/**
 * Reads an hourly price file, $/MWh, keyed on UTC hour starts. Two formats, told apart by the header:
 * - plain CSV: header `ts,price`; `ts` ISO 8601 with its offset (`2024-11-03T01:00:00-05:00` or `…Z`), the start of
 *   the hour; `price` in $/MWh.
 * - PJM Data Miner 2 hourly LMP exports (`da_hrl_lmps`, `rt_hrl_lmps`): `datetime_beginning_utc` (hour start, UTC,
 *   `M/D/YYYY h:mm:ss AM`) and `total_lmp_da` or `total_lmp_rt`. Only `row_is_current = True` rows count (PJM keeps
 *   superseded versions of corrected days). The local `datetime_beginning_ept` column is ignored: its fall-back
 *   hour appears twice, so the UTC column is the key. A file with several pnodes is refused (import one node).
 * Malformed rows are rejected with their line and reason; the rest is kept. Throws when the header is neither.
 */
export function parsePriceFile(text: string): PriceFile {
  // csv-parse: RFC 4180 quoting (PJM quotes node names holding commas), CRLF or LF, a byte-order mark
  const lines = parse(text, { bom: true, relax_column_count: true, skip_empty_lines: true }) as string[][];
  const header = (lines[0] ?? []).map((h) => h.trim().toLowerCase());
  const rejected: PriceRejection[] = [];
  const byHour = new Map<number, number>();
  let conflicts = 0, superseded = 0, node: string | null = null;
  let format: PriceFileFormat;
  let tsCol: number, priceCol: number, currentCol = -1, nodeCol = -1;
  if (header.includes('datetime_beginning_utc') && (header.includes('total_lmp_da') || header.includes('total_lmp_rt'))) {
    format = header.includes('total_lmp_da') ? 'pjm-da' : 'pjm-rt';
    tsCol = header.indexOf('datetime_beginning_utc');
    priceCol = header.indexOf(format === 'pjm-da' ? 'total_lmp_da' : 'total_lmp_rt');
    currentCol = header.indexOf('row_is_current');
    nodeCol = header.indexOf('pnode_name');
  } else if (header.includes('ts') && header.includes('price')) {
    format = 'csv';
    tsCol = header.indexOf('ts');
    priceCol = header.indexOf('price');
  } else {
    throw new Error('not a price file: expected a header `ts,price` or a PJM Data Miner hourly LMP export (datetime_beginning_utc, total_lmp_da or total_lmp_rt)');
  }
  const nodes = new Set<string>();
  for (let i = 1; i < lines.length; i++) {
    const row = lines[i]!;
    const lineNo = i + 1;
    if (currentCol >= 0) {
      const cur = (row[currentCol] ?? '').trim().toLowerCase();
      if (cur === 'false') { superseded++; continue; }
      if (cur !== 'true') { rejected.push({ line: lineNo, reason: `row_is_current is "${row[currentCol] ?? ''}", expected True or False` }); continue; }
    }
    const tsText = (row[tsCol] ?? '').trim();
    let ms: number;
    if (format === 'csv') {
      const parsed = ISO_DATETIME.test(tsText) ? parseInstant(tsText) : undefined;
      ms = parsed && 'ms' in parsed ? parsed.ms : NaN;
    } else ms = parsePjmUtc(tsText);
    if (!Number.isFinite(ms)) { rejected.push({ line: lineNo, reason: format === 'csv' ? `ts "${tsText}" is not an ISO 8601 instant with an offset` : `datetime_beginning_utc "${tsText}" is not M/D/YYYY h:mm:ss AM` }); continue; }
    if (ms % HOUR_MS !== 0) { rejected.push({ line: lineNo, reason: `ts "${tsText}" is not the start of an hour` }); continue; }
    const priceText = (row[priceCol] ?? '').trim();
    if (!NUMBER.test(priceText)) { rejected.push({ line: lineNo, reason: `price "${priceText}" is not a number` }); continue; }
    const price = Number(priceText);
    if (Math.abs(price) > 100_000) { rejected.push({ line: lineNo, reason: `price ${price} $/MWh is beyond ±100000` }); continue; }
    if (nodeCol >= 0) nodes.add((row[nodeCol] ?? '').trim());
    const had = byHour.get(ms);
    if (had === undefined) byHour.set(ms, price);
    else if (had !== price) conflicts++;
  }
  if (nodes.size > 1) throw new Error(`the file holds ${nodes.size} pnodes (${[...nodes].slice(0, 3).join(', ')}…): export one node per file`);
  if (nodes.size === 1) node = [...nodes][0]!;
  const points = [...byHour].sort((a, b) => a[0] - b[0]).map(([ms, price]) => ({ ts: new Date(ms), price }));
  return { format, node, points, superseded, rejected, conflicts };
}

/** Why a file could not be read, in words (no such file, a directory, permission denied, else the error code). */
export function readFailure(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'a directory' : code === 'EACCES' ? 'permission denied' : code ?? (err as Error).message;
}

/**
 * Reads a price file (parsePriceFile's formats) into $/MWh by hour start (ms, UTC), for the market simulator's
 * demand curves. Unlike an import, which keeps the good rows, a row it cannot read fails the whole file: throws
 * `OPTION: FILE:LINE: reason` naming the first one (and parsePriceFile's errors for a file that is not a price
 * file, an unreadable file, or a PJM export of another market than `market`).
 */
export async function readPriceFileByHour(file: string, option = 'FILE', market?: 'da' | 'rt'): Promise<Map<number, number>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new RangeError(`${option}: cannot read '${file}' (${readFailure(err)})`, { cause: err });
  }
  let parsed: PriceFile;
  try {
    parsed = parsePriceFile(text);
  } catch (err) {
    throw new RangeError(`${option}: ${file}: ${(err as Error).message}`, { cause: err });
  }
  const got = marketOfFormat(parsed.format);
  if (market && got && got !== market) throw new RangeError(`${option}: ${file} is a PJM ${got === 'da' ? 'day-ahead (total_lmp_da)' : 'real-time (total_lmp_rt)'} export; ${option} takes ${market === 'da' ? 'day-ahead' : 'real-time'} prices`);
  const bad = parsed.rejected[0];
  if (bad) throw new RangeError(`${option}: ${file}:${bad.line}: ${bad.reason}${parsed.rejected.length > 1 ? ` (and ${parsed.rejected.length - 1} more rows)` : ''}`);
  return new Map(parsed.points.map((p) => [p.ts.getTime(), p.price]));
}
