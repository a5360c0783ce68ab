/**
 * The one CSV writer of every download (API routes, audit export, eGRID downloads, the site's chart "CSV"
 * button). Spreadsheet-safe (OWASP "CSV Injection"): a text cell that begins with `=`, `+`, `-`, `@`, tab or
 * carriage return could run as a formula, so it gets a leading apostrophe, which spreadsheets show as text.
 * Numbers stay numbers: a negative number is a value, not a formula. Pure (no Node APIs): the browser bundle
 * uses it too.
 */

export type Cell = string | number | null | undefined;

const FORMULA_START = /^[=+\-@\t\r]/;

/** A text cell made inert; numbers, null and undefined pass unchanged. */
export function neutraliseCell<T extends Cell>(v: T): T | string {
  return typeof v === 'string' && FORMULA_START.test(v) ? `'${v}` : v;
}

/** One CSV field: neutralised, RFC 4180 quoted when it holds `"`, `,`, CR or LF; null/undefined → empty. */
export function csvField(v: Cell): string {
  if (v === null || v === undefined) return '';
  const s = String(neutraliseCell(v));
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** CSV text: the header row (omitted when empty) then one line per row, each line ending in "\n". */
export function toCsv(header: readonly string[], rows: ReadonlyArray<ReadonlyArray<Cell>>): string {
  const lines = header.length ? [header, ...rows] : rows;
  return lines.map((r) => r.map(csvField).join(',') + '\n').join('');
}
