import type { Db } from '../../platform/db.ts';

/** A market run as listed: its day, market, status and totals (MWh sold and bought, revenue, delivered share). */
export interface MarketRunSummary {
  id: number; market: string; marketDay: string; node: string | null; status: string; devices: number; createdAt: string;
  soldMwh: number; boughtMwh: number; revenueUsd: number | null; imbalanceCostUsd: number | null; deliveredPct: number | null;
}

const SUMMARY = `
  SELECT r.id, r.market, r.market_day::text AS market_day, r.node, r.status, r.devices, r.created_at,
         coalesce((SELECT sum(sold_mw) FROM market_awards a WHERE a.run_id = r.id), 0) AS sold,
         coalesce((SELECT sum(bought_mw) FROM market_awards a WHERE a.run_id = r.id), 0) AS bought,
         (SELECT sum(revenue) FROM market_settlements s WHERE s.run_id = r.id) AS revenue,
         (SELECT sum(imbalance_cost) FROM market_settlements s WHERE s.run_id = r.id) AS imbalance,
         (SELECT sum(least(delivered_mwh * sign(awarded_mwh), abs(awarded_mwh))) / nullif(sum(abs(awarded_mwh)), 0) FROM market_settlements s WHERE s.run_id = r.id) AS delivered
    FROM market_runs r`;
type SummaryRow = { id: string | number; market: string; market_day: string; node: string | null; status: string; devices: number; created_at: Date | string; sold: number; bought: number; revenue: number | null; imbalance: number | null; delivered: number | null };
const toSummary = (r: SummaryRow): MarketRunSummary => ({
  id: Number(r.id), market: r.market, marketDay: r.market_day, node: r.node, status: r.status, devices: r.devices, createdAt: new Date(r.created_at).toISOString(),
  soldMwh: Number(r.sold), boughtMwh: Number(r.bought), revenueUsd: r.revenue === null ? null : Number(r.revenue), imbalanceCostUsd: r.imbalance === null ? null : Number(r.imbalance),
  deliveredPct: r.delivered === null ? null : Number(r.delivered) * 100,
});

/** The newest runs first (at most `limit`). */
export async function listMarketRuns(db: Db, limit = 50): Promise<MarketRunSummary[]> {
  return (await db.query<SummaryRow>(`${SUMMARY} ORDER BY r.market_day DESC, r.id DESC LIMIT $1`, [limit])).map(toSummary);
}

export interface MarketRunDetail extends MarketRunSummary {
  bids: Array<{ hour: string; side: string; step: number; quantityMw: number; priceUsdPerMwh: number }>;
  hours: Array<{
    hour: string; soldMw: number; boughtMw: number; priceUsdPerMwh: number; dispatchedDevices: number; dispatchedMw: number;
    deliveredMwh: number | null; settlementPriceUsdPerMwh: number | null; revenueUsd: number | null; imbalanceCostUsd: number | null;
  }>;
}

/** One run with its bids and, per hour, the award, the dispatch (devices, MW) and the settlement; undefined when there is no such run. */
export async function getMarketRun(db: Db, id: number): Promise<MarketRunDetail | undefined> {
  const [row] = await db.query<SummaryRow>(`${SUMMARY} WHERE r.id = $1`, [id]);
  if (!row) return undefined;
  const bids = await db.query<{ hour: Date | string; side: string; step: number; quantity_mw: number; price: number }>(
    'SELECT hour, side, step, quantity_mw, price FROM market_bids WHERE run_id = $1 ORDER BY hour, side, step', [id]);
  const hours = await db.query<{ hour: Date | string; sold_mw: number; bought_mw: number; price: number; devices: number; dispatched: number | null; delivered_mwh: number | null; settlement_price: number | null; revenue: number | null; imbalance_cost: number | null }>(
    `SELECT a.hour, a.sold_mw, a.bought_mw, a.price,
            (SELECT count(*)::int FROM market_dispatch d WHERE d.run_id = a.run_id AND d.hour = a.hour) AS devices,
            (SELECT sum(d.power_kw) / 1000 FROM market_dispatch d WHERE d.run_id = a.run_id AND d.hour = a.hour) AS dispatched,
            s.delivered_mwh, s.settlement_price, s.revenue, s.imbalance_cost
       FROM market_awards a LEFT JOIN market_settlements s ON s.run_id = a.run_id AND s.hour = a.hour
      WHERE a.run_id = $1 ORDER BY a.hour`, [id]);
  const n = (v: number | null) => (v === null ? null : Number(v));
  return {
    ...toSummary(row),
    bids: bids.map((b) => ({ hour: new Date(b.hour).toISOString(), side: b.side, step: b.step, quantityMw: Number(b.quantity_mw), priceUsdPerMwh: Number(b.price) })),
    hours: hours.map((h) => ({
      hour: new Date(h.hour).toISOString(), soldMw: Number(h.sold_mw), boughtMw: Number(h.bought_mw), priceUsdPerMwh: Number(h.price),
      dispatchedDevices: h.devices, dispatchedMw: Number(h.dispatched ?? 0), deliveredMwh: n(h.delivered_mwh), settlementPriceUsdPerMwh: n(h.settlement_price),
      revenueUsd: n(h.revenue), imbalanceCostUsd: n(h.imbalance_cost),
    })),
  };
}
