import type { Db } from '../../platform/db.ts';
import { HOUR_MS } from '../../grid/time.ts';
import { getBa } from '../../grid/ba-repository.ts';
import { ensureSeries, getSeriesByKey, seriesKey } from '../../grid/series-repository.ts';
import { commitObservations } from '../../ingest/store-points.ts';
import type { PricePoint } from './price-files.ts';

/** Units of every price series. */
export const PRICE_UNITS = '$/MWh';

/** A market node or zone name as a series subtype: upper case, runs of other characters as `_` (WESTERN HUB → WESTERN_HUB). */
export function nodeSubtype(name: string): string {
  const s = name.trim().toUpperCase().replace(/[^A-Z0-9]+/g, '_').replace(/^_+|_+$/g, '');
  if (!/^[A-Z0-9_]{1,24}$/.test(s)) throw new RangeError(`node "${name}" must hold 1–24 letters, digits or separators`);
  return s;
}

/**
 * The market a price series belongs to: `da` day-ahead (hourly prices published the day before; what plans are made
 * on) or `rt` real-time (settled after the hour). Part of the series identity: a node has one series per market.
 */
export const PRICE_MARKETS = ['da', 'rt'] as const;
export type PriceMarket = (typeof PRICE_MARKETS)[number];

/** The series subtype of a node's prices in a market: the node (day-ahead) or `<NODE>.RT` (real-time). */
export const priceSubtype = (node: string, market: PriceMarket): string => `${nodeSubtype(node)}${market === 'rt' ? '.RT' : ''}`;

/**
 * The key of a node's price series in a market: `<BA>.price.<NODE>` for day-ahead (e.g. PJM.price.WESTERN_HUB, the
 * key day-ahead series always had) and `<BA>.price.<NODE>.RT` for real-time (e.g. PJM.price.WESTERN_HUB.RT).
 */
export const priceSeriesKey = (ba: string, node: string, market: PriceMarket = 'da'): string => seriesKey(ba, 'price', priceSubtype(node, market));

/** The market of a price series key (see priceSeriesKey): `rt` when it ends `.RT`, else `da`. */
export const marketOfPriceSeries = (key: string): PriceMarket => (key.endsWith('.RT') ? 'rt' : 'da');

/**
 * The series whose prices are known ahead for a price series: itself for day-ahead; for a real-time series the
 * day-ahead series of the same node (real-time prices of future hours do not exist yet).
 */
export const planningPriceSeries = (key: string): string => (marketOfPriceSeries(key) === 'rt' ? key.slice(0, -'.RT'.length) : key);

export interface PriceImport { series: string; inserted: number; updated: number; from: Date | null; to: Date | null }

/**
 * Stores hourly prices ($/MWh, UTC hour starts) as the external price series of `node` in BA `ba` and `market`
 * (created on first sight; see priceSeriesKey), idempotently (observations upsert; a changed price counts one
 * revision). Day-ahead and real-time prices of one node go to two series. Throws when the BA is unknown.
 */
export async function importPrices(db: Db, ba: string, node: string, points: readonly PricePoint[], market: PriceMarket = 'da'): Promise<PriceImport & { market: PriceMarket }> {
  if (!(await getBa(db, ba))) throw new RangeError(`unknown balancing authority '${ba}'`);
  const subtype = priceSubtype(node, market);
  const seriesId = await ensureSeries(db, { baCode: ba, type: 'price', subtype, units: PRICE_UNITS, source: 'external' });
  let inserted = 0, updated = 0;
  for (let i = 0; i < points.length; i += 5000) {
    const batch = points.slice(i, i + 5000).map((p) => ({ seriesId, ts: p.ts, value: p.price, quality: 'good' as const }));
    const r = await commitObservations(db, batch, 'external');
    inserted += r.inserted; updated += r.updated;
  }
  return { series: seriesKey(ba, 'price', subtype), market, inserted, updated, from: points[0]?.ts ?? null, to: points.at(-1)?.ts ?? null };
}

/** Hourly prices ($/MWh) of a price series over [from, to), one entry per hour start, null where none is stored; undefined for an unknown series. */
export async function readPrices(db: Db, key: string, from: Date, to: Date): Promise<Array<number | null> | undefined> {
  const s = await getSeriesByKey(db, key);
  if (!s || s.type !== 'price') return undefined;
  const rows = await db.query<{ ts: Date | string; value: number | null }>(
    'SELECT ts, value FROM observations WHERE series_id = $1 AND ts >= $2 AND ts < $3', [s.id, from, to]);
  const n = Math.max(0, Math.ceil((to.getTime() - from.getTime()) / HOUR_MS));
  const out: Array<number | null> = new Array(n).fill(null);
  for (const r of rows) {
    const i = Math.round((new Date(r.ts).getTime() - from.getTime()) / HOUR_MS);
    if (i >= 0 && i < n) out[i] = r.value === null ? null : Number(r.value);
  }
  return out;
}
