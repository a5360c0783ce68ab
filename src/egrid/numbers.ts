/**
 * eGRID cell values in every form the published files and their re-exports take.
 *
 * Numbers: `1234.5`, `-11.383`, `4e-05`, Excel's formatted save (`"1,234.5"`, accounting negatives
 * `(1,234)` and ` (48)`), percentages `12.3%` (returned as the fraction 0.123, so a resource-mix
 * or capacity-factor column is a fraction 0..1 whichever form it came in). Empty = null (not
 * reported); `--` = null because EPA did not calculate it (`notCalculated`); `NA`, `N/A` and `NaN`
 * in a NUMBER column are null too (R and pandas writers) — in text columns `NA` stays text: it is a
 * real generator id in eGRID2020. Anything else is an error the caller reports with its line.
 */
export type ParsedNumber =
  | { ok: true; value: number | null; notCalculated?: true }
  | { ok: false; reason: string };

const PLAIN = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const GROUPED = /^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?$/;
const NULL_WORDS = new Set(['NA', 'N/A', 'NAN', '#N/A']);

/**
 * The number of a cell written plainly (`1234.5`, `-11.383`, `4e-05`; -0 as 0), or undefined for any other form
 * (parseEgridNumber reads those). Allocates nothing: an import calls it for millions of cells.
 */
export function plainNumber(raw: string): number | undefined {
  if (!PLAIN.test(raw)) return undefined;
  const n = Number(raw);
  return Number.isFinite(n) ? (n === 0 ? 0 : n) : undefined;
}

export function parseEgridNumber(raw: string | number | null | undefined): ParsedNumber {
  if (raw === null || raw === undefined) return { ok: true, value: null };
  if (typeof raw === 'number') return Number.isFinite(raw) ? { ok: true, value: raw } : { ok: false, reason: `not a finite number: ${raw}` };
  // most cells are plain numbers: one test, no copies
  const plain = plainNumber(raw);
  if (plain !== undefined) return { ok: true, value: plain };
  let s = raw.trim();
  if (s === '') return { ok: true, value: null };
  if (s === '--') return { ok: true, value: null, notCalculated: true };
  if (NULL_WORDS.has(s.toUpperCase())) return { ok: true, value: null };
  let sign = 1;
  if (s.startsWith('(') && s.endsWith(')')) {
    sign = -1;
    s = s.slice(1, -1).trim();
    if (s.startsWith('-') || s.startsWith('+')) return { ok: false, reason: `a signed number in accounting parentheses: ${JSON.stringify(raw)}` };
  }
  let scale = 1;
  if (s.endsWith('%')) { scale = 0.01; s = s.slice(0, -1).trim(); }
  if (GROUPED.test(s)) s = s.replaceAll(',', '');
  else if (!PLAIN.test(s)) return { ok: false, reason: `not a number: ${JSON.stringify(raw.length > 40 ? raw.slice(0, 40) + '…' : raw)}` };
  // a percentage is read as the decimal it writes, shifted: 12.3% -> "12.3e-2" = 0.123 (12.3 / 100 is 0.12300000000000001)
  const n = scale === 1 ? Number(s) : Number(/[eE]/.test(s) ? s.replace(/[eE]([+-]?\d+)$/, (_, e: string) => `e${Number(e) - 2}`) : `${s}e-2`);
  if (!Number.isFinite(n)) return { ok: false, reason: `out of range: ${JSON.stringify(raw)}` };
  const value = sign * n;
  return { ok: true, value: Object.is(value, -0) ? 0 : value };
}

/** Yes/No style flags (`Yes`, `Y`, `1`, `TRUE`); empty = null. */
export function parseEgridFlag(raw: string | number | null | undefined): boolean | null {
  if (raw === null || raw === undefined) return null;
  const s = String(raw).trim().toUpperCase();
  if (s === '' || s === '--') return null;
  return s === 'YES' || s === 'Y' || s === '1' || s === 'TRUE';
}
