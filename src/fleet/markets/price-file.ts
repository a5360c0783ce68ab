import { readFile } from 'node:fs/promises';
import { parse } from 'csv-parse/sync';

/**
 * Hourly prices ($/MWh) by hour start (ms, UTC) from a plain CSV (`ts` ISO 8601 with offset, `price`) or a PJM Data
 * Miner hourly LMP export (`datetime_beginning_utc` as M/D/YYYY h:mm:ss AM/PM, `total_lmp_da` or `total_lmp_rt`;
 * only `row_is_current` rows; keyed on UTC so the fall-back hour's two local rows stay apart). Throws naming the
 * line of a row it cannot read. The market simulator's demand curves are built from these (the optimizer's price
 * import, issue 15, reads the same formats into stored series).
 */
export async function readPriceFile(file: string): Promise<Map<number, number>> {
  const rows = parse(await readFile(file, 'utf8'), { columns: true, skip_empty_lines: true, bom: true }) as Array<Record<string, string>>;
  const out = new Map<number, number>();
  rows.forEach((r, i) => {
    const line = i + 2;
    if ('datetime_beginning_utc' in r) {
      if (r.row_is_current !== undefined && r.row_is_current.toLowerCase() !== 'true') return;
      const m = /^(\d{1,2})\/(\d{1,2})\/(\d{4}) (\d{1,2}):(\d{2}):(\d{2}) ([AP]M)$/.exec(r.datetime_beginning_utc!.trim());
      const price = Number(r.total_lmp_da ?? r.total_lmp_rt);
      if (!m || !Number.isFinite(price)) throw new Error(`${file}:${line}: unreadable PJM row`);
      const hour = (Number(m[4]) % 12) + (m[7] === 'PM' ? 12 : 0);
      out.set(Date.UTC(Number(m[3]), Number(m[1]) - 1, Number(m[2]), hour, Number(m[5])), price);
    } else {
      const t = Date.parse(r.ts ?? '');
      const price = Number(r.price);
      if (!/[zZ]|[+-]\d{2}:?\d{2}$/.test(r.ts ?? '') || Number.isNaN(t) || !Number.isFinite(price)) throw new Error(`${file}:${line}: expected ts (ISO 8601 with offset) and price`);
      out.set(t, price);
    }
  });
  return out;
}
