import type { BidStep } from './bids.ts';
import { backgroundCurves, clearHour, type BackgroundOptions, type Step } from './market-clearing.ts';

/** The fleet's awards of one hour from a market: MW sold and bought (both ≥ 0) at the hour's clearing price. */
export interface AwardHour { hour: number; soldMw: number; boughtMw: number; priceUsdPerMwh: number }

/**
 * A market the fleet trades in. A real day-ahead market takes bids before its gate closes and publishes awards
 * later: `submit` hands over the bids and returns the market's reference; `awards` answers null until they are
 * published. `settlementPrices` are the prices imbalances are settled at (real-time), when the market has them.
 */
export interface MarketAdapter {
  readonly name: string;
  submit(marketDay: string, bids: readonly BidStep[]): Promise<string>;
  awards(reference: string): Promise<AwardHour[] | null>;
  settlementPrices?(hours: readonly number[]): Promise<Map<number, number>>;
}

/**
 * A day-ahead energy market simulated for tests and the demo: each hour clears the fleet's stepwise bids
 * together with the rest of the market, a supply and a demand curve built from a real price series (PJM day-ahead
 * LMPs in ../shared/data/prices), by uniform price (market-clearing.ts). Awards are known at once. Real-time
 * prices, when given, settle imbalances.
 */
export class SimulatedDayAheadMarket implements MarketAdapter {
  readonly name = 'simulated-day-ahead';
  private readonly results = new Map<string, AwardHour[]>();
  private readonly prices: ReadonlyMap<number, number>;
  private readonly realTime: ReadonlyMap<number, number> | undefined;
  private readonly background: BackgroundOptions;
  constructor(prices: ReadonlyMap<number, number>, opts: { realTime?: ReadonlyMap<number, number>; background?: BackgroundOptions } = {}) {
    this.prices = prices;
    this.realTime = opts.realTime;
    this.background = opts.background ?? {};
  }

  async submit(marketDay: string, bids: readonly BidStep[]): Promise<string> {
    const byHour = new Map<number, BidStep[]>();
    for (const b of bids) byHour.set(b.hour, [...(byHour.get(b.hour) ?? []), b]);
    const out: AwardHour[] = [];
    for (const [hour, list] of [...byHour].sort((a, b) => a[0] - b[0])) {
      const price = this.prices.get(hour);
      if (price === undefined) throw new Error(`no reference price for ${new Date(hour).toISOString()}: the simulator cannot clear that hour`);
      const fleet: Step[] = list.map((b) => ({ id: `fleet:${b.side}:${b.step}`, side: b.side, quantityMw: b.quantityMw, priceUsdPerMwh: b.priceUsdPerMwh }));
      const cleared = clearHour([...backgroundCurves(String(hour), price, this.background), ...fleet]);
      let soldMw = 0;
      let boughtMw = 0;
      for (const s of fleet) {
        const q = cleared.awards.get(s.id) ?? 0;
        if (s.side === 'sell') soldMw += q;
        else boughtMw += q;
      }
      out.push({ hour, soldMw, boughtMw, priceUsdPerMwh: cleared.priceUsdPerMwh });
    }
    const reference = `sim-${marketDay}-${this.results.size + 1}`;
    this.results.set(reference, out);
    return reference;
  }

  async awards(reference: string): Promise<AwardHour[] | null> {
    return this.results.get(reference) ?? null;
  }

  async settlementPrices(hours: readonly number[]): Promise<Map<number, number>> {
    const source = this.realTime ?? this.prices;
    return new Map(hours.filter((h) => source.has(h)).map((h) => [h, source.get(h)!]));
  }
}
