import type { FleetFlexHour } from './flexibility.ts';

/** One step of the fleet's day-ahead bid: sell (discharge) or buy (charge) up to quantityMw in an hour at a limit price. */
export interface BidStep { hour: number; side: 'sell' | 'buy'; step: number; quantityMw: number; priceUsdPerMwh: number }

export interface BidOptions {
  /** battery round-trip efficiency (default 0.9) */
  roundTripEfficiency?: number;
  /** wear cost per MWh discharged (default 20 $/MWh) */
  degradationUsdPerMwh?: number;
  /** steps per hour and side (default 3) */
  steps?: number;
}

const quantile = (sorted: readonly number[], q: number) => {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  return sorted[lo]! + (sorted[Math.min(lo + 1, sorted.length - 1)]! - sorted[lo]!) * (pos - lo);
};

/**
 * What the devices can really deliver of a side's hourly quantities (MW by hour) when all of them are awarded in
 * full, in time order (dispatch.ts's `feasibleQuantities`): the fleet's hourly headroom assumes each hour alone.
 */
export type FeasibleTrim = (side: 'sell' | 'buy', quantities: ReadonlyMap<number, number>) => ReadonlyMap<number, number>;

/**
 * The fleet's bids for one market day from its feasible envelope (flexibility already net of the SoC-uncertainty
 * margin: flexibility.ts) and a price forecast ($/MWh per hour start):
 * - sell in hours whose forecast is at least the day's 75th percentile and the break-even of charging at the 25th
 *   (P25 / round-trip + degradation, and at least the middle of P25 and P75); buy in hours at most the 25th
 *   percentile and P75 × round-trip − degradation (and below that middle by the round-trip loss and wear);
 * - the most valuable hours first, until the day's sells reach the energy the fleet can give (dischargeMwh) and
 *   its buys the energy it can take (chargeMwh): then ANY set of awards is feasible in any order (SoC stays
 *   between start − sells and start + buys, both inside the envelope);
 * - trimmed to what the devices can deliver when every hour of a side is awarded in full (`trim`): awards of
 *   the other side only add room (a purchase leaves more to sell), so any set of awards stays deliverable;
 * - each hour's quantity in `steps` equal steps priced from the break-even towards the forecast (more volume
 *   offered as the price rises), so a price below break-even never buys the fleet's energy.
 */
export function buildBids(flex: readonly FleetFlexHour[], envelope: { dischargeMwh: number; chargeMwh: number }, forecast: ReadonlyMap<number, number>, o: BidOptions = {},
  trim?: FeasibleTrim): BidStep[] {
  const eta = o.roundTripEfficiency ?? 0.9;
  const wear = o.degradationUsdPerMwh ?? 20;
  const n = o.steps ?? 3;
  const priced = flex.filter((f) => forecast.has(f.hour)).map((f) => ({ ...f, price: forecast.get(f.hour)! }));
  if (!priced.length) return [];
  const sorted = priced.map((p) => p.price).sort((a, b) => a - b);
  const p25 = quantile(sorted, 0.25);
  const p75 = quantile(sorted, 0.75);
  // limit prices around one pivot (the middle of the day's spread), so the fleet never offers to sell below
  // what it bids to buy: sell ≥ charging at P25 / round trip + wear; buy ≤ selling at P75 × round trip − wear
  const mid = (p25 + p75) / 2;
  const sellFloor = Math.max(p25 / eta + wear, mid);
  const buyCeiling = Math.min(p75 * eta - wear, mid - Math.abs(mid) * (1 - eta) - wear);
  const chosen: Array<{ hour: number; side: 'sell' | 'buy'; q: number; limit: number; price: number }> = [];
  const steps = (hour: number, side: 'sell' | 'buy', q: number, limit: number, price: number) => { chosen.push({ hour, side, q, limit, price }); };
  let sellLeft = envelope.dischargeMwh;
  for (const h of [...priced].sort((a, b) => b.price - a.price)) {
    if (sellLeft <= 1e-9 || h.price < Math.max(p75, sellFloor)) break;
    const q = Math.min(h.upMw, sellLeft);
    if (q <= 1e-9) continue;
    steps(h.hour, 'sell', q, sellFloor, h.price);
    sellLeft -= q;
  }
  let buyLeft = envelope.chargeMwh;
  for (const h of [...priced].sort((a, b) => a.price - b.price)) {
    if (buyLeft <= 1e-9 || h.price > Math.min(p25, buyCeiling)) break;
    const q = Math.min(h.downMw, buyLeft);
    if (q <= 1e-9) continue;
    steps(h.hour, 'buy', q, buyCeiling, h.price);
    buyLeft -= q;
  }
  const out: BidStep[] = [];
  for (const side of ['sell', 'buy'] as const) {
    const mine = chosen.filter((c) => c.side === side);
    const feasible = trim ? trim(side, new Map(mine.map((c) => [c.hour, c.q]))) : undefined;
    for (const c of mine) {
      const q = Math.min(c.q, feasible?.get(c.hour) ?? c.q);
      if (q <= 1e-9) continue;
      for (let k = 0; k < n; k++) out.push({ hour: c.hour, side, step: k, quantityMw: q / n, priceUsdPerMwh: c.limit + (c.price - c.limit) * (k / n) });
    }
  }
  return out.sort((a, b) => a.hour - b.hour || a.side.localeCompare(b.side) || a.step - b.step);
}
