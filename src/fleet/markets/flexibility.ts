/**
 * Hourly flexibility of a fleet of batteries (issue 15, "Markets"): how much more each device could discharge
 * (sell, "up") or charge (buy, "down") in each hour than its plan, given its state of charge (SoC), power limits,
 * reserve and the plan's own SoC path. Units: power kW (devices) and MW (fleet), energy kWh / MWh, one-hour steps.
 * Sign convention as the fleet's telemetry: + charging, − discharging.
 */
export interface DeviceState {
  id: string;
  /** usable nameplate energy capacity, kWh */
  capacityKwh: number;
  maxChargeKw: number;
  maxDischargeKw: number;
  /** current state of charge, fraction 0..1 of capacityKwh */
  soc: number;
  /** SoC the device keeps for its owner (backup), fraction; never offered */
  reserveSoc: number;
  /** highest SoC the device charges to, fraction (default 1) */
  maxSoc?: number;
  /** one-way efficiencies (default 0.95 each: ~90 % round trip) */
  chargeEfficiency?: number;
  dischargeEfficiency?: number;
  /** false: the device is not reachable now and offers nothing */
  online: boolean;
  /** how old the SoC reading is, minutes; older readings widen the uncertainty margin */
  socAgeMinutes?: number;
}

/** A device's own plan (the optimizer's schedule) per hour, kW (+ charge, − discharge); missing hours plan 0. */
export type Plan = ReadonlyMap<number, number>;

export interface FlexOptions {
  /** SoC uncertainty held back from what is offered, fraction of capacity (default 0.03) … */
  socUncertainty?: number;
  /** … plus this much per hour of telemetry age (default 0.01 / h) */
  socUncertaintyPerHour?: number;
}

export interface DeviceFlexHour { hour: number; upKw: number; downKw: number }
export interface FleetFlexHour {
  /** hour start, ms since epoch (UTC) */
  hour: number;
  /** extra discharge the fleet can deliver in the hour, MW */
  upMw: number;
  /** extra charge the fleet can absorb in the hour, MW */
  downMw: number;
  devices: number;
}

const HOUR = 3_600_000;

/** The SoC margin a device's offers are reduced by (fraction of capacity): the base uncertainty plus its telemetry's age. */
export function socMargin(d: DeviceState, o: FlexOptions = {}): number {
  return (o.socUncertainty ?? 0.03) + (o.socUncertaintyPerHour ?? 0.01) * Math.max(0, (d.socAgeMinutes ?? 0) / 60);
}

/** kWh that an hour at `kw` (+ charge, − discharge) puts into the battery (negative: takes out), after the one-way efficiencies. */
export const hourEnergyKwh = (d: Pick<DeviceState, 'chargeEfficiency' | 'dischargeEfficiency'>, kw: number): number =>
  (kw >= 0 ? kw * (d.chargeEfficiency ?? 0.95) : kw / (d.dischargeEfficiency ?? 0.95));

/**
 * One device's headroom for each of `hours` (hour starts, ascending, consecutive), along its planned SoC path:
 * up = min(power room to full discharge from the planned power, energy above reserve + margin in that hour);
 * down likewise towards full charge and maxSoc − margin. Each hour is judged on its own (a deviation in one
 * hour is assumed not to be followed by one in another): bids.ts bounds the day's total separately.
 */
export function deviceFlexibility(d: DeviceState, hours: readonly number[], plan: Plan = new Map(), o: FlexOptions = {}): DeviceFlexHour[] {
  if (!d.online) return hours.map((hour) => ({ hour, upKw: 0, downKw: 0 }));
  const ec = d.chargeEfficiency ?? 0.95;
  const ed = d.dischargeEfficiency ?? 0.95;
  const margin = socMargin(d, o);
  const floor = (d.reserveSoc + margin) * d.capacityKwh;
  const ceiling = ((d.maxSoc ?? 1) - margin) * d.capacityKwh;
  let energy = d.soc * d.capacityKwh;
  const out: DeviceFlexHour[] = [];
  for (const hour of hours) {
    const p = plan.get(hour) ?? 0;
    const after = energy + hourEnergyKwh(d, p);
    // up: go from p to −maxDischarge; energy the hour may take out on top of the plan: (after − floor) × ed
    const upKw = Math.max(0, Math.min(d.maxDischargeKw + p, (after - floor) * ed));
    const downKw = Math.max(0, Math.min(d.maxChargeKw - p, (ceiling - after) / ec));
    out.push({ hour, upKw, downKw });
    energy = after;
  }
  return out;
}

/** The fleet's flexibility per hour: the devices' headroom summed, MW; `devices` counts those offering anything. */
export function fleetFlexibility(devices: readonly DeviceState[], hours: readonly number[], plans: ReadonlyMap<string, Plan> = new Map(), o: FlexOptions = {}): FleetFlexHour[] {
  const out = hours.map((hour) => ({ hour, upMw: 0, downMw: 0, devices: 0 }));
  for (const d of devices) {
    deviceFlexibility(d, hours, plans.get(d.id), o).forEach((f, i) => {
      out[i]!.upMw += f.upKw / 1000;
      out[i]!.downMw += f.downKw / 1000;
      if (f.upKw > 0 || f.downKw > 0) out[i]!.devices++;
    });
  }
  return out;
}

/** The fleet's energy envelope now: MWh it can give before every device is at reserve + margin, and take before every device is at maxSoc − margin. */
export function fleetEnergyEnvelope(devices: readonly DeviceState[], o: FlexOptions = {}): { dischargeMwh: number; chargeMwh: number } {
  let dischargeMwh = 0;
  let chargeMwh = 0;
  for (const d of devices) {
    if (!d.online) continue;
    const margin = socMargin(d, o);
    dischargeMwh += Math.max(0, (d.soc - d.reserveSoc - margin) * d.capacityKwh * (d.dischargeEfficiency ?? 0.95)) / 1000;
    chargeMwh += Math.max(0, ((d.maxSoc ?? 1) - margin - d.soc) * d.capacityKwh / (d.chargeEfficiency ?? 0.95)) / 1000;
  }
  return { dischargeMwh, chargeMwh };
}

/** Consecutive hour starts from `from` (floored to the hour), `count` of them. */
export const hourStarts = (from: Date, count: number): number[] => {
  const first = Math.floor(from.getTime() / HOUR) * HOUR;
  return Array.from({ length: count }, (_, i) => first + i * HOUR);
};
