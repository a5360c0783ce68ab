import { createLogger } from '../platform/log.ts';
import { readPriceFileByHour } from '../fleet/prices/price-files.ts';
import { hourStarts } from '../fleet/markets/flexibility.ts';
import { SimulatedDayAheadMarket } from '../fleet/markets/market-adapter.ts';
import { runDayAhead, settleRun } from '../fleet/markets/market-run.ts';
import { simulateDelivery, simulatedFleet } from '../fleet/markets/simulated-day.ts';
import { totalDeliveryRatio } from '../fleet/markets/delivery.ts';
import { withDb } from './keys-command.ts';

export interface MarketsSimulateOptions { prices: string; rt?: string; day: string; devices: string; offlineShare: string; utcOffset: string; node?: string; json?: boolean }

/**
 * `gridpulse markets simulate --prices DA.csv [--rt RT.csv] --day YYYY-MM-DD [--devices 1000] [--offline-share 0.05]
 * [--utc-offset -4] [--json]`: one SIMULATED market day: a simulated fleet bids into the day-ahead simulator built on the
 * real price file (its day-ahead prices as the forecast), the awards are dispatched, the fleet executes them (some
 * devices going offline), and the run is settled from the simulated telemetry. Stored like any run (market_runs…).
 */
export async function marketsSimulate(opts: MarketsSimulateOptions): Promise<number> {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(opts.day)) throw new Error(`--day: YYYY-MM-DD, got '${opts.day}'`);
  const devices = Number(opts.devices);
  const offline = Number(opts.offlineShare);
  const offset = Number(opts.utcOffset);
  if (!Number.isInteger(devices) || devices < 1 || devices > 100_000) throw new Error(`--devices: 1 to 100000, got '${opts.devices}'`);
  if (!(offline >= 0 && offline <= 1)) throw new Error(`--offline-share: 0 to 1, got '${opts.offlineShare}'`);
  if (!Number.isInteger(offset) || Math.abs(offset) > 14) throw new Error(`--utc-offset: whole hours, got '${opts.utcOffset}'`);
  const prices = await readPriceFileByHour(opts.prices);
  const rt = opts.rt ? await readPriceFileByHour(opts.rt) : undefined;
  const dayStart = new Date(Date.parse(`${opts.day}T00:00:00Z`) - offset * 3_600_000);
  const hours = hourStarts(dayStart, 24);
  const missing = hours.filter((h) => !prices.has(h));
  if (missing.length) throw new Error(`--prices: the file has no price for ${missing.length} hour(s) of ${opts.day}, first ${new Date(missing[0]!).toISOString()}`);
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
