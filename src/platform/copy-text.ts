/**
 * PostgreSQL's COPY text format, on its own so that a worker thread can encode rows without loading the database
 * drivers (src/egrid/csv-import-worker.ts); db.ts sends what it makes.
 */

/** A value COPY can carry in text format; Dates travel as ISO instants. */
export type CopyValue = string | number | boolean | Date | null;

const NEEDS_ESCAPE = /[\\\t\n\r]/;

function copyField(v: CopyValue): string {
  if (v === null) return '\\N';
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'boolean') return v ? 't' : 'f';
  if (typeof v === 'number') return String(v);
  // most fields need no escape: one test, no replace
  if (!NEEDS_ESCAPE.test(v)) return v;
  return v.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'));
}

/** One row as a line of COPY text format (tab-separated, `\\N` for null, ending in a newline). */
export function copyLine(row: readonly CopyValue[]): string {
  let line = '';
  for (let i = 0; i < row.length; i++) line += (i ? '\t' : '') + copyField(row[i]!);
  return line + '\n';
}

/** COPY text format in chunks of about 64 KB, so large loads stream instead of building one string. */
export function* copyText(rows: Iterable<readonly CopyValue[]>): Generator<string> {
  let chunk = '';
  for (const row of rows) {
    chunk += copyLine(row);
    if (chunk.length >= 65_536) { yield chunk; chunk = ''; }
  }
  if (chunk) yield chunk;
}
