import type { ScheduleInterval } from '../messages.ts';
import { deviceFlexibility, hourEnergyKwh, socMargin, type DeviceState, type FlexOptions, type Plan } from './flexibility.ts';

/** The fleet's net award in an hour, MW: + sold (the fleet discharges), − bought (it charges). */
export interface HourAward { hour: number; netMw: number; priceUsdPerMwh: number }

const HOUR = 3_600_000;

/** A device's headroom in an hour (kW), and optionally its fair share: the energy it has on the award's side spread over the remaining awarded hours of that side. */
export interface Headroom { id: string; upKw: number; downKw: number; fairKw?: number }

/**
 * Splits an hour's award among devices: first in proportion to their fair shares (so a device short of energy is
 * not drained early and the later hours still find the fleet's power), then, when those do not cover the award,
 * the rest in proportion to what each device has left up to its headroom. Never more than a device's headroom;
 * when the award exceeds the fleet's headroom the shortfall is returned. Power per device, kW: + discharge for a
 * sale, + charge for a purchase.
 */
export function allocateHour(netMw: number, headroom: readonly Headroom[]): { perDevice: Map<string, number>; shortfallMw: number } {
  const side = netMw >= 0 ? 'upKw' : 'downKw';
  const wantKw = Math.abs(netMw) * 1000;
  const caps = headroom.map((d) => Math.max(0, d[side]));
  const fair = headroom.map((d, i) => Math.min(caps[i]!, Math.max(0, d.fairKw ?? caps[i]!)));
  const sumFair = fair.reduce((a, b) => a + b, 0);
  const sumSpare = caps.reduce((a, c, i) => a + c - fair[i]!, 0);
  const perDevice = new Map<string, number>();
  const base = sumFair > 0 ? Math.min(1, wantKw / sumFair) : 0;
  const extra = sumSpare > 0 ? Math.min(1, Math.max(0, wantKw - sumFair) / sumSpare) : 0;
  headroom.forEach((d, i) => {
    const kw = fair[i]! * base + (caps[i]! - fair[i]!) * extra;
    if (kw > 0) perDevice.set(d.id, kw);
  });
  // below a milliwatt the difference is floating-point noise (an hour's quantity split into bid steps and summed back)
  const shortKw = wantKw - sumFair - sumSpare;
  return { perDevice, shortfallMw: shortKw > 1e-6 ? shortKw / 1000 : 0 };
}

/** Each device's headroom in an hour at its current SoC, with its fair share over `remaining` awarded hours on the side asked. */
export function headroomAt(devices: readonly DeviceState[], soc: ReadonlyMap<string, number>, hour: number, side: 'sell' | 'buy', remaining: number,
  plans: ReadonlyMap<string, Plan> = new Map(), o: FlexOptions = {}): Headroom[] {
  return devices.map((d) => {
    const now = { ...d, soc: soc.get(d.id) ?? d.soc };
    const h = deviceFlexibility(now, [hour], plans.get(d.id), o)[0]!;
    const margin = socMargin(d, o);
    const energyKwh = side === 'sell'
      ? (now.soc - d.reserveSoc - margin) * d.capacityKwh * (d.dischargeEfficiency ?? 0.95)
      : ((d.maxSoc ?? 1) - margin - now.soc) * d.capacityKwh / (d.chargeEfficiency ?? 0.95);
    return { id: d.id, upKw: h.upKw, downKw: h.downKw, fairKw: Math.max(0, energyKwh) / Math.max(1, remaining) };
  });
}

/**
 * Awarded energy as each device's schedule intervals (the fleet's gridpulse.schedule/1 intervals), hour by hour in
 * time order: each hour's award is split by the devices' headroom (flexibility.ts, net of the SoC margin) at the SoC
 * the earlier hours leave them, so no device is asked for energy it will not have. Without plans an interval is the
 * device's share: discharge for a sale, charge for a purchase. With `plans` (each device's planned kW per hour, +
 * charge) the awards are deviations from the plan, as the flexibility was measured: a device's awarded hour becomes
 * its plan plus its share (a planned 2 kW charge and a 3 kW share of a sale: discharge 1 kW; nothing left: idle),
 * and its SoC follows the plan in the hours between.
 */
export function dispatchAwards(awards: readonly { hour: number; netMw: number }[], devices: readonly DeviceState[], plans: ReadonlyMap<string, Plan> = new Map(), o: FlexOptions = {}):
  { schedules: Map<string, ScheduleInterval[]>; shortfallMwh: number; shortfallByHour: Map<number, number> } {
  const schedules = new Map<string, ScheduleInterval[]>();
  const soc = new Map(devices.map((d) => [d.id, d.soc]));
  const shortfallByHour = new Map<number, number>();
  let shortfallMwh = 0;
  const move = (d: DeviceState, kw: number) => { soc.set(d.id, soc.get(d.id)! + hourEnergyKwh(d, kw) / d.capacityKwh); };
  let planned = -Infinity; // the plans' hours before this one are in `soc`
  const sorted = [...awards].filter((a) => Math.abs(a.netMw) >= 1e-9).sort((x, y) => x.hour - y.hour);
  for (const a of sorted) {
    for (const d of devices) for (const [h, kw] of plans.get(d.id) ?? []) if (h >= planned && h < a.hour) move(d, kw);
    planned = a.hour + HOUR;
    const side = a.netMw > 0 ? 'sell' : 'buy';
    const remaining = sorted.filter((x) => x.hour >= a.hour && (side === 'sell' ? x.netMw > 0 : x.netMw < 0)).length;
    const headroom = headroomAt(devices, soc, a.hour, side, remaining, plans, o);
    const { perDevice, shortfallMw } = allocateHour(a.netMw, headroom);
    const capKw = new Map(headroom.map((h) => [h.id, side === 'sell' ? h.upKw : h.downKw]));
    shortfallMwh += shortfallMw;
    if (shortfallMw > 0) shortfallByHour.set(a.hour, shortfallMw);
    for (const d of devices) {
      // to the watt, as schedules carry it, never above the device's headroom (a limit such as 3.3335 kW would
      // otherwise round up past what the device accepts); a share that rounds to nothing leaves the plan as it is
      const share = Math.min(Math.round((perDevice.get(d.id) ?? 0) * 1000), Math.floor((capKw.get(d.id) ?? 0) * 1000 + 1e-6)) / 1000;
      const plan = plans.get(d.id)?.get(a.hour) ?? 0;
      const net = share > 0 ? plan + (side === 'sell' ? -share : share) : plan;
      move(d, net);
      if (share <= 0) continue;
      const kw = Math.min(Math.round(Math.abs(net) * 1000), Math.floor((net >= 0 ? d.maxChargeKw : d.maxDischargeKw) * 1000 + 1e-6)) / 1000;
      const list = schedules.get(d.id) ?? [];
      list.push({ start: new Date(a.hour).toISOString(), end: new Date(a.hour + HOUR).toISOString(),
        ...(kw > 0 ? { action: net > 0 ? 'charge' as const : 'discharge' as const, powerKw: kw } : { action: 'idle' as const }) });
      schedules.set(d.id, list);
    }
  }
  return { schedules, shortfallMwh, shortfallByHour };
}

/**
 * For bids.ts: the part of each hour's quantity (MW) on one side the devices can deliver when all of them are
 * awarded in full, in time order (dispatchAwards' split), so that dispatching these quantities has no shortfall.
 * Each hour's quantity is cut by what dispatchAwards found short, less 1 W, until no hour is short: cutting an
 * hour only leaves the later hours more energy, but each device's power is rounded to the watt, so one cut can
 * leave a later hour a few watts short (a fleet of 29 was short 2 W after one pass). Hours still short after a few
 * passes offer nothing.
 */
export function feasibleQuantities(devices: readonly DeviceState[], side: 'sell' | 'buy', quantities: ReadonlyMap<number, number>, plans?: ReadonlyMap<string, Plan>, o: FlexOptions = {}): Map<number, number> {
  const q = new Map(quantities);
  for (let pass = 0; pass < 8; pass++) {
    const { shortfallByHour } = dispatchAwards([...q].map(([hour, mw]) => ({ hour, netMw: side === 'sell' ? mw : -mw })), devices, plans, o);
    if (!shortfallByHour.size) return q;
    for (const [h, short] of shortfallByHour) q.set(h, Math.max(0, q.get(h)! - short - 1e-6));
    if (pass === 6) for (const h of shortfallByHour.keys()) q.set(h, 0);
  }
  return q;
}
