import { createLogger } from '../platform/log.ts';
import { readPriceFileByHour } from '../fleet/prices/price-files.ts';
import { hourStarts } from '../fleet/markets/flexibility.ts';
import { SimulatedDayAheadMarket } from '../fleet/markets/market-adapter.ts';
import { runDayAhead, settleRun } from '../fleet/markets/market-run.ts';
import { simulateDelivery, simulatedFleet } from '../fleet/markets/simulated-day.ts';
import { totalDeliveryRatio } from '../fleet/markets/delivery.ts';
import { canonicalZone, isCalendarDate, localMidnight } from '../grid/local-day.ts';
import { ERA_TEXT } from '../grid/time.ts';

import { withDb } from './keys-command.ts';
import { checkNodeOption } from './prices-command.ts';

export interface MarketsSimulateOptions {
  prices: string; rt?: string; day: string; devices: string; offlineShare: string; utcOffset?: string; timeZone?: string; node?: string; json?: boolean;
}

/** PJM's market time zone: its days run from local midnight, Eastern time. */
export const PJM_TIME_ZONE = 'America/New_York';

/** A `--time-zone` option: the canonical IANA zone, or a one-line error naming the option. */
export function parseTimeZoneOption(text: string): string {
  const zone = canonicalZone(text);
  if (!zone) throw new RangeError(`--time-zone: an IANA time zone such as America/New_York, got '${text}'`);
  return zone;
}

/** A `--day`-like option: a real calendar date YYYY-MM-DD in GridPulse's era, or a one-line error naming it. */
export function parseDayOption(option: string, text: string): string {
  if (!isCalendarDate(text)) throw new RangeError(`${option}: a real calendar date YYYY-MM-DD ${ERA_TEXT}, got '${text}'`);
  return text;
}

/**
 * The UTC instant a market day (YYYY-MM-DD, checked) starts: local midnight in `timeZone` (default PJM's,
 * America/New_York, so UTC−5 in winter and −4 in summer, from Intl), or `day` 00:00 at a fixed `utcOffset` (whole
 * hours, −14 to 14) when one is given. Throws a one-line RangeError naming the option at fault.
 */
export function marketDayStart(day: string, o: { utcOffset?: string | undefined; timeZone?: string | undefined }): Date {
  if (o.utcOffset !== undefined && o.timeZone !== undefined) throw new RangeError('--utc-offset: give it or --time-zone, not both');
  if (o.utcOffset !== undefined) {
    const offset = Number(o.utcOffset);
    if (o.utcOffset.trim() === '' || !Number.isInteger(offset) || Math.abs(offset) > 14) throw new RangeError(`--utc-offset: whole hours from -14 to 14, got '${o.utcOffset}'`);
    return new Date(Date.parse(`${day}T00:00:00Z`) - offset * 3_600_000);
  }
  return localMidnight(day, parseTimeZoneOption(o.timeZone ?? PJM_TIME_ZONE));
}

/**
 * `gridpulse markets simulate --prices DA.csv [--rt RT.csv] --day YYYY-MM-DD [--devices 1000] [--offline-share 0.05]
 * [--time-zone America/New_York | --utc-offset H] [--json]`: one SIMULATED market day: a simulated fleet bids into
 * the day-ahead simulator built on the real price file (its day-ahead prices as the forecast), the awards are
 * dispatched, the fleet executes them (some devices going offline), and the run is settled from the simulated
 * telemetry. Stored like any run (market_runs…). The day starts at local midnight of the market's time zone
 * (default PJM's, America/New_York: UTC−5 in winter, −4 in summer, from Intl); `--utc-offset` fixes it instead.
 * `--prices` must hold day-ahead prices and `--rt` real-time ones (a PJM export of the other market is refused).
 * Every bad option is a one-line error naming it.
 */
export async function marketsSimulate(opts: MarketsSimulateOptions): Promise<number> {
  const day = parseDayOption('--day', opts.day);
  const devices = Number(opts.devices);
  const offline = Number(opts.offlineShare);
  if (!/^\d+$/.test(opts.devices.trim()) || !Number.isInteger(devices) || devices < 1 || devices > 100_000) throw new RangeError(`--devices: a whole number from 1 to 100000, got '${opts.devices}'`);
  if (opts.offlineShare.trim() === '' || !(offline >= 0 && offline <= 1)) throw new RangeError(`--offline-share: a fraction from 0 to 1, got '${opts.offlineShare}'`);
  const dayStart = marketDayStart(day, opts);
  if (opts.node !== undefined) checkNodeOption(opts.node);
  const prices = await readPriceFileByHour(opts.prices, '--prices', 'da');
  const rt = opts.rt ? await readPriceFileByHour(opts.rt, '--rt', 'rt') : undefined;
  const hours = hourStarts(dayStart, 24);
  const missing = hours.filter((h) => !prices.has(h));
  if (missing.length) throw new RangeError(`--prices: the file has no price for ${missing.length} hour(s) of ${day}, first ${new Date(missing[0]!).toISOString()}`);
  const logger = createLogger(opts.json ? 'warn' : 'info'); // --json keeps stdout to the one JSON line
  const fleet = simulatedFleet({ devices, seed: 15 });
  const market = new SimulatedDayAheadMarket(prices, rt ? { realTime: rt } : {});
  const result = await withDb(async (db) => {
    const run = await runDayAhead({ db, logger, market }, { dayStart, devices: fleet, forecast: new Map(hours.map((h) => [h, prices.get(h)!])), ...(opts.node ? { node: opts.node } : {}) });
    const { samples, offlineDevices } = simulateDelivery(fleet, run.awards, { devices, seed: 15, offlineShare: offline });
    const settled = await settleRun({ db, market }, run.runId, samples);
    return { run, settled, offlineDevices };
  });
  const ratio = totalDeliveryRatio(result.settled.report);
  const out = {
    runId: result.run.runId, simulated: true, devices, offlineDevices: result.offlineDevices,
    soldMwh: result.run.awards.reduce((s, a) => s + Math.max(0, a.netMw), 0), boughtMwh: result.run.awards.reduce((s, a) => s + Math.max(0, -a.netMw), 0),
    revenueUsd: result.settled.rows.reduce((s, r) => s + r.revenue, 0), imbalanceCostUsd: result.settled.rows.reduce((s, r) => s + r.imbalance, 0),
    deliveredPct: ratio === null ? null : ratio * 100,
  };
  if (opts.json) process.stdout.write(`${JSON.stringify(out)}\n`);
  else {
    process.stdout.write(`market run ${out.runId} (SIMULATED fleet of ${devices}, ${out.offlineDevices} went offline)\n`
      + `sold ${out.soldMwh.toFixed(2)} MWh, bought ${out.boughtMwh.toFixed(2)} MWh, revenue $${out.revenueUsd.toFixed(2)}, imbalance cost $${out.imbalanceCostUsd.toFixed(2)}\n`
      + `delivered / awarded: ${out.deliveredPct === null ? 'no awards' : `${out.deliveredPct.toFixed(1)} %`}\n`);
  }
  return 0;
}
