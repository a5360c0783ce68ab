/**
 * Uniform-price clearing of stepwise offers (sell) and bids (buy) for one hour: the classic merit-order
 * intersection (supply ascending by price, demand descending); every accepted step is paid the one clearing
 * price. Prices in currency/MWh, quantities in MW (one-hour products, so MW = MWh).
 */
export interface Step { id: string; side: 'sell' | 'buy'; quantityMw: number; priceUsdPerMwh: number }
export interface Cleared { priceUsdPerMwh: number; volumeMw: number; awards: Map<string, number> }

const EPS = 1e-9;

/**
 * Clears one hour. Price rule: where the curves cross on a step that is partly accepted, that step's price;
 * when the crossing falls between steps (both fully accepted up to the same volume), the midpoint of the last
 * accepted and the first rejected prices that bound it. Ties in price are filled in the order given (time
 * priority). Returns NaN price when nothing trades.
 */
export function clearHour(steps: readonly Step[]): Cleared {
  const supply = steps.filter((s) => s.side === 'sell' && s.quantityMw > EPS).map((s, i) => ({ s, i })).sort((a, b) => a.s.priceUsdPerMwh - b.s.priceUsdPerMwh || a.i - b.i).map((x) => x.s);
  const demand = steps.filter((s) => s.side === 'buy' && s.quantityMw > EPS).map((s, i) => ({ s, i })).sort((a, b) => b.s.priceUsdPerMwh - a.s.priceUsdPerMwh || a.i - b.i).map((x) => x.s);
  const awards = new Map<string, number>();
  let si = 0;
  let di = 0;
  let sLeft = supply[0]?.quantityMw ?? 0;
  let dLeft = demand[0]?.quantityMw ?? 0;
  let volume = 0;
  let lastSell: Step | undefined;
  let lastBuy: Step | undefined;
  while (si < supply.length && di < demand.length && supply[si]!.priceUsdPerMwh <= demand[di]!.priceUsdPerMwh) {
    const q = Math.min(sLeft, dLeft);
    const s = supply[si]!;
    const d = demand[di]!;
    awards.set(s.id, (awards.get(s.id) ?? 0) + q);
    awards.set(d.id, (awards.get(d.id) ?? 0) + q);
    volume += q;
    sLeft -= q;
    dLeft -= q;
    lastSell = s;
    lastBuy = d;
    if (sLeft <= EPS) { si++; sLeft = supply[si]?.quantityMw ?? 0; }
    if (dLeft <= EPS) { di++; dLeft = demand[di]?.quantityMw ?? 0; }
  }
  if (!lastSell || !lastBuy) return { priceUsdPerMwh: Number.NaN, volumeMw: 0, awards };
  const sellPartial = si < supply.length && supply[si] === lastSell;
  const buyPartial = di < demand.length && demand[di] === lastBuy;
  let price: number;
  if (sellPartial && !buyPartial) price = lastSell.priceUsdPerMwh;
  else if (buyPartial && !sellPartial) price = lastBuy.priceUsdPerMwh;
  else {
    // between steps: any price in [max(last sell, next buy), min(last buy, next sell)] clears the same volume
    const low = Math.max(lastSell.priceUsdPerMwh, demand[di]?.priceUsdPerMwh ?? -Infinity);
    const high = Math.min(lastBuy.priceUsdPerMwh, supply[si]?.priceUsdPerMwh ?? Infinity);
    price = (low + high) / 2;
  }
  return { priceUsdPerMwh: price, volumeMw: volume, awards };
}

export interface BackgroundOptions {
  /** the rest of the market's volume at the reference price, MW (default 2,000) */
  marketMw?: number;
  /** steps per curve (default 20) */
  steps?: number;
  /** half-width of the curves' price range, as a fraction of |price| (default 0.5), at least `minSpread` $/MWh */
  spread?: number;
  minSpread?: number;
}

/**
 * The rest of the market in one hour, built from a real price: a stepwise supply curve and a stepwise
 * demand curve, symmetric about `priceUsdPerMwh`, so that without anyone else they clear at exactly that
 * price and volume marketMw / 2. Bids added to them move the price as a real residual market would.
 */
export function backgroundCurves(hourId: string, priceUsdPerMwh: number, o: BackgroundOptions = {}): Step[] {
  const n = o.steps ?? 20;
  const q = (o.marketMw ?? 2000) / n;
  const width = Math.max(Math.abs(priceUsdPerMwh) * (o.spread ?? 0.5), o.minSpread ?? 5);
  const out: Step[] = [];
  for (let k = 0; k < n; k++) {
    const offset = width * (2 * (k + 0.5) / n - 1);
    out.push({ id: `${hourId}:bg-sell-${k}`, side: 'sell', quantityMw: q, priceUsdPerMwh: priceUsdPerMwh + offset });
    out.push({ id: `${hourId}:bg-buy-${k}`, side: 'buy', quantityMw: q, priceUsdPerMwh: priceUsdPerMwh - offset });
  }
  return out;
}
