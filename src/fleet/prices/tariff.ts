import { z } from 'zod';
import { wallClock } from '../../grid/local-day.ts';

/**
 * A device's tariff: what a kWh imported costs and what a kWh exported earns, hour by hour (all $/kWh).
 * - dynamic: a price series ($/MWh, e.g. PJM.price.WESTERN_HUB) / 1000 + fixed adders ($/kWh: delivery, taxes);
 * - tou (time of use): periods by local hour, weekday and season (months), the first matching period wins, else
 *   `otherwise`;
 * - flat: one price.
 * Export credit: `same` (the import price of the hour, i.e. net metering), `fixed` (a rate), or `none` (0).
 */
export const exportCredit = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('same') }),
  z.object({ kind: z.literal('fixed'), rate: z.number().min(-10).max(10).describe('$/kWh') }),
  z.object({ kind: z.literal('none') }),
]);

const touPeriod = z.object({
  /** local hours [fromHour, toHour); toHour ≤ fromHour wraps past midnight */
  fromHour: z.number().int().min(0).max(23),
  toHour: z.number().int().min(0).max(24),
  /** 0 = Sunday … 6 = Saturday; all days when absent */
  weekdays: z.array(z.number().int().min(0).max(6)).min(1).optional(),
  /** 1–12; all months when absent (a season) */
  months: z.array(z.number().int().min(1).max(12)).min(1).optional(),
  price: z.number().min(-10).max(10).describe('$/kWh'),
});

export const tariffSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('dynamic'),
    priceSeries: z.string().regex(/^[A-Za-z0-9_.-]{1,120}$/).describe('price series key, e.g. PJM.price.WESTERN_HUB (day-ahead, $/MWh) or PJM.price.WESTERN_HUB.RT (real-time: paid, planned on the node\'s day-ahead series)'),
    adders: z.number().min(-10).max(10).default(0).describe('$/kWh added to every imported kWh'),
    exportCredit: exportCredit.default({ kind: 'same' }),
  }),
  z.object({
    kind: z.literal('tou'),
    timeZone: z.string().min(1).max(64).describe('IANA time zone of the periods'),
    periods: z.array(touPeriod).min(1).max(48),
    otherwise: z.number().min(-10).max(10).describe('$/kWh outside every period'),
    exportCredit: exportCredit.default({ kind: 'none' }),
  }),
  z.object({
    kind: z.literal('flat'),
    price: z.number().min(-10).max(10).describe('$/kWh'),
    exportCredit: exportCredit.default({ kind: 'none' }),
  }),
]);
export type Tariff = z.infer<typeof tariffSchema>;

/** Import and export prices of each hour, $/kWh; `missing` lists hours a dynamic tariff has no price for. */
export interface TariffPrices { importPrice: number[]; exportPrice: number[] | null; missing: Date[] }

function touPrice(t: Extract<Tariff, { kind: 'tou' }>, at: Date): number {
  const w = wallClock(at, t.timeZone);
  const weekday = new Date(Date.UTC(w.year, w.month - 1, w.day)).getUTCDay();
  for (const p of t.periods) {
    const inHours = p.fromHour < p.toHour ? w.hour >= p.fromHour && w.hour < p.toHour : w.hour >= p.fromHour || w.hour < p.toHour;
    if (inHours && (!p.weekdays || p.weekdays.includes(weekday)) && (!p.months || p.months.includes(w.month))) return p.price;
  }
  return t.otherwise;
}

/**
 * Prices of `hours` under `tariff`. `wholesale` ($/MWh per hour, parallel to `hours`; null where unknown) feeds a
 * dynamic tariff; an hour without a wholesale price is listed in `missing` and priced at the mean of the known
 * hours (the caller decides whether to plan anyway). `energy` ($/MWh per hour, null where none; e.g. an OpenADR
 * PRICE event) overrides the tariff's energy price: a dynamic tariff's wholesale price (its adders still apply), a
 * time-of-use or flat tariff's price of that hour; an export credit of `same` follows it.
 */
export function tariffPrices(tariff: Tariff, hours: readonly Date[], wholesale?: ReadonlyArray<number | null>, energy?: ReadonlyArray<number | null>): TariffPrices {
  const missing: Date[] = [];
  let importPrice: number[];
  if (tariff.kind === 'dynamic') {
    const ws = energy ? hours.map((_, i) => energy[i] ?? wholesale?.[i] ?? null) : wholesale;
    const known = (ws ?? []).filter((v): v is number => v !== null && Number.isFinite(v));
    const fill = known.length ? known.reduce((s, v) => s + v, 0) / known.length : 0;
    importPrice = hours.map((h, i) => {
      const v = ws?.[i];
      if (v === null || v === undefined || !Number.isFinite(v)) { missing.push(h); return fill / 1000 + tariff.adders; }
      return v / 1000 + tariff.adders;
    });
  } else if (tariff.kind === 'tou') importPrice = hours.map((h) => touPrice(tariff, h));
  else importPrice = hours.map(() => tariff.price);
  if (energy && tariff.kind !== 'dynamic') importPrice = importPrice.map((p, i) => (energy[i] ?? null) === null ? p : energy[i]! / 1000);
  const credit = tariff.exportCredit;
  const exportPrice = credit.kind === 'same' ? importPrice.slice() : credit.kind === 'fixed' ? hours.map(() => credit.rate) : null;
  return { importPrice, exportPrice, missing };
}
