import type { Logger } from 'pino';
import type { Db } from '../../platform/db.ts';
import type { ScheduleInterval } from '../messages.ts';
import { buildBids, type BidOptions, type BidStep } from './bids.ts';
import { deliveryReport, type PowerSample } from './delivery.ts';
import { dispatchAwards, feasibleQuantities, type HourAward } from './dispatch.ts';
import { fleetEnergyEnvelope, fleetFlexibility, hourStarts, type DeviceState, type FlexOptions, type Plan } from './flexibility.ts';
import type { MarketAdapter } from './market-adapter.ts';

/**
 * Where awarded energy goes: the fleet's schedule creation (branch fleet-core's schedule versions and
 * distribution) implements this; tests record.
 */
export interface ScheduleSink { submit(deviceId: string, intervals: ScheduleInterval[], reason: string): Promise<void> }

export interface DayAheadInput {
  /** the market day's first hour (UTC instant; 24 hours are bid) */
  dayStart: Date;
  devices: readonly DeviceState[];
  plans?: ReadonlyMap<string, Plan>;
  /** the price forecast the bids are priced on, $/MWh by hour start */
  forecast: ReadonlyMap<number, number>;
  node?: string;
  flex?: FlexOptions;
  bids?: BidOptions;
}

export interface DayAheadResult {
  runId: number; reference: string; bids: BidStep[]; awards: HourAward[];
  schedules: Map<string, ScheduleInterval[]>; shortfallMwh: number;
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * One day-ahead round: the fleet's hourly flexibility (net of the SoC-uncertainty margin), bids from it, submission
 * to the market, its awards, and their dispatch as each device's schedule intervals (through `sink`). Bids,
 * awards and dispatch are stored (market_runs, market_bids, market_awards, market_dispatch). Logs progress with
 * the run id.
 */
export async function runDayAhead(deps: { db: Db; logger: Pick<Logger, 'info'>; market: MarketAdapter; sink?: ScheduleSink }, input: DayAheadInput): Promise<DayAheadResult> {
  const { db, market } = deps;
  const hours = hourStarts(input.dayStart, 24);
  const flex = fleetFlexibility(input.devices, hours, input.plans, input.flex);
  const bids = buildBids(flex, fleetEnergyEnvelope(input.devices, input.flex), input.forecast, input.bids,
    (side, q) => feasibleQuantities(input.devices, side, q, input.plans, input.flex));
  const [run] = await db.query<{ id: string | number }>(
    `INSERT INTO market_runs (market, market_day, node, status, devices, options) VALUES ($1, $2, $3, 'bid', $4, $5::text::jsonb) RETURNING id`,
    [market.name, iso(hours[0]!).slice(0, 10), input.node ?? null, input.devices.length, JSON.stringify({ flex: input.flex ?? {}, bids: input.bids ?? {} })]);
  const runId = Number(run!.id);
  const log = { info: (o: object, m: string) => deps.logger.info({ marketRunId: runId, ...o }, m) };
  if (bids.length) {
    await db.query(
      `INSERT INTO market_bids (run_id, hour, side, step, quantity_mw, price)
       SELECT $1, * FROM unnest($2::timestamptz[], $3::text[], $4::int[], $5::float8[], $6::float8[])`,
      [runId, bids.map((b) => iso(b.hour)), bids.map((b) => b.side), bids.map((b) => b.step), bids.map((b) => b.quantityMw), bids.map((b) => b.priceUsdPerMwh)]);
  }
  log.info({ bids: bids.length, hours: hours.length }, 'market bids built');
  const reference = await market.submit(iso(hours[0]!).slice(0, 10), bids);
  const got = (await market.awards(reference)) ?? [];
  const awards: HourAward[] = got.map((a) => ({ hour: a.hour, netMw: a.soldMw - a.boughtMw, priceUsdPerMwh: a.priceUsdPerMwh }));
  if (got.length) {
    await db.query(
      `INSERT INTO market_awards (run_id, hour, sold_mw, bought_mw, price) SELECT $1, * FROM unnest($2::timestamptz[], $3::float8[], $4::float8[], $5::float8[])`,
      [runId, got.map((a) => iso(a.hour)), got.map((a) => a.soldMw), got.map((a) => a.boughtMw), got.map((a) => a.priceUsdPerMwh)]);
  }
  const { schedules, shortfallMwh } = dispatchAwards(awards, input.devices, input.plans, input.flex);
  const rows: Array<[string, string, number]> = [];
  for (const [id, list] of schedules) for (const iv of list) rows.push([iv.start, id, iv.action === 'discharge' ? iv.powerKw! : -iv.powerKw!]);
  if (rows.length) {
    await db.query(`INSERT INTO market_dispatch (run_id, hour, device_id, power_kw) SELECT $1, * FROM unnest($2::timestamptz[], $3::text[], $4::float8[])`,
      [runId, rows.map((r) => r[0]), rows.map((r) => r[1]), rows.map((r) => r[2])]);
  }
  if (deps.sink) for (const [id, list] of schedules) await deps.sink.submit(id, list, `market run ${runId} (${market.name})`);
  await db.query(`UPDATE market_runs SET status = $2, reference = $3 WHERE id = $1`, [runId, got.length ? 'dispatched' : 'bid', reference]);
  log.info({ awardedHours: awards.filter((a) => a.netMw !== 0).length, devices: schedules.size, shortfallMwh }, 'market awards dispatched');
  return { runId, reference, bids, awards, schedules, shortfallMwh };
}

/**
 * Settles a run from the devices' telemetry: delivered vs awarded per hour (delivery.ts), revenue at the award
 * price, the imbalance (awarded − delivered) at the market's settlement price (its day-ahead price when it has
 * none). Stored in market_settlements; the run becomes 'settled'.
 */
export async function settleRun(deps: { db: Db; market: MarketAdapter }, runId: number, samples: readonly PowerSample[], baselineMwh?: ReadonlyMap<number, number>) {
  const awards = (await deps.db.query<{ hour: Date | string; sold_mw: number; bought_mw: number; price: number }>(
    'SELECT hour, sold_mw, bought_mw, price FROM market_awards WHERE run_id = $1 ORDER BY hour', [runId]))
    .map((r) => ({ hour: new Date(r.hour).getTime(), netMw: r.sold_mw - r.bought_mw, priceUsdPerMwh: r.price }))
    .filter((a) => Math.abs(a.netMw) > 1e-9);
  const report = deliveryReport(awards, samples, baselineMwh);
  const rt = (await deps.market.settlementPrices?.(awards.map((a) => a.hour))) ?? new Map<number, number>();
  const rows = awards.map((a, i) => {
    const sign = Math.sign(a.netMw);
    const deliveredNet = report[i]!.deliveredMwh * sign;
    const settlement = rt.get(a.hour) ?? a.priceUsdPerMwh;
    return { hour: a.hour, awarded: a.netMw, delivered: deliveredNet, price: a.priceUsdPerMwh, settlement, revenue: a.netMw * a.priceUsdPerMwh, imbalance: (a.netMw - deliveredNet) * settlement };
  });
  await deps.db.transaction(async (tx) => {
    await tx.query('DELETE FROM market_settlements WHERE run_id = $1', [runId]);
    if (rows.length) {
      await tx.query(
        `INSERT INTO market_settlements (run_id, hour, awarded_mwh, delivered_mwh, price, settlement_price, revenue, imbalance_cost)
         SELECT $1, * FROM unnest($2::timestamptz[], $3::float8[], $4::float8[], $5::float8[], $6::float8[], $7::float8[], $8::float8[])`,
        [runId, rows.map((r) => iso(r.hour)), rows.map((r) => r.awarded), rows.map((r) => r.delivered), rows.map((r) => r.price), rows.map((r) => r.settlement), rows.map((r) => r.revenue), rows.map((r) => r.imbalance)]);
    }
    await tx.query(`UPDATE market_runs SET status = 'settled' WHERE id = $1`, [runId]);
  });
  return { report, rows };
}
