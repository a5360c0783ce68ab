import { seeded } from '../../platform/random.ts';
import type { PowerSample } from './delivery.ts';
import { allocateHour, headroomAt, type HourAward } from './dispatch.ts';
import type { DeviceState, FlexOptions } from './flexibility.ts';

/**
 * A simulated market day for tests, the demo and `gridpulse markets simulate`: a fleet of home batteries
 * (SIMULATED, labelled so) executes the fleet's awards hour by hour. Each hour the operator re-splits the hour's
 * award among the devices online at its start (the SoC margin held back at bidding is what lets the others cover
 * for a device that dropped out); a device that goes offline mid-hour stops there; devices execute with a small
 * power error and never below reserve; each reports telemetry (power, SoC) every `sampleMinutes`.
 */
export interface SimulatedFleetOptions {
  devices: number;
  seed?: number;
  /** share of devices that go offline at a random time of the day, for 1–6 hours (default 0.05) */
  offlineShare?: number;
  /** relative power error of execution, standard deviation (default 0.02) */
  powerError?: number;
  sampleMinutes?: number;
}

export function simulatedFleet(o: SimulatedFleetOptions): DeviceState[] {
  const rand = seeded(o.seed ?? 15);
  return Array.from({ length: o.devices }, (_, i) => ({
    id: `sim-battery-${String(i).padStart(5, '0')}`,
    capacityKwh: 13.5, maxChargeKw: 5, maxDischargeKw: 5, soc: 0.35 + rand() * 0.4, reserveSoc: 0.1, maxSoc: 0.95,
    chargeEfficiency: 0.95, dischargeEfficiency: 0.95, online: true, socAgeMinutes: Math.floor(rand() * 15),
  }));
}

const HOUR = 3_600_000;

export function simulateDelivery(devices: readonly DeviceState[], awards: readonly HourAward[], o: SimulatedFleetOptions & { flex?: FlexOptions }): { samples: PowerSample[]; offlineDevices: number } {
  const rand = seeded((o.seed ?? 15) + 1);
  const step = (o.sampleMinutes ?? 5) * 60_000;
  const err = o.powerError ?? 0.02;
  const hours = [...awards].sort((a, b) => a.hour - b.hour);
  if (!hours.length) return { samples: [], offlineDevices: 0 };
  const day0 = hours[0]!.hour;
  const span = hours.at(-1)!.hour + HOUR - day0;
  const outage = new Map<string, { from: number; to: number }>();
  for (const d of devices) {
    if (rand() < (o.offlineShare ?? 0.05)) {
      const from = day0 + Math.floor(rand() * span);
      outage.set(d.id, { from, to: from + (1 + Math.floor(rand() * 6)) * HOUR });
    }
  }
  const offline = (id: string, t: number) => { const w = outage.get(id); return w !== undefined && t >= w.from && t < w.to; };
  const soc = new Map(devices.map((d) => [d.id, d.soc]));
  const samples: PowerSample[] = [];
  // a standard normal from two uniforms (Box–Muller)
  const normal = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  for (const a of hours) {
    const online = devices.filter((d) => !offline(d.id, a.hour));
    const side = a.netMw > 0 ? 'sell' : 'buy';
    const remaining = hours.filter((x) => x.hour >= a.hour && (side === 'sell' ? x.netMw > 1e-9 : x.netMw < -1e-9)).length;
    const { perDevice } = allocateHour(a.netMw, headroomAt(online.map((d) => ({ ...d, socAgeMinutes: 0 })), soc, a.hour, side, remaining, undefined, o.flex));
    for (const d of devices) {
      const kw = perDevice.get(d.id) ?? 0;
      for (let t = a.hour; t < a.hour + HOUR; t += step) {
        if (offline(d.id, t)) continue;
        const commanded = a.netMw > 0 ? -kw : kw; // telemetry sign: + charging
        let p = commanded * (1 + err * normal());
        const energy = soc.get(d.id)! * d.capacityKwh;
        const dt = step / HOUR;
        if (p < 0) p = -Math.min(-p, Math.max(0, (energy - d.reserveSoc * d.capacityKwh) * (d.dischargeEfficiency ?? 0.95) / dt));
        else p = Math.min(p, Math.max(0, ((d.maxSoc ?? 1) * d.capacityKwh - energy) / (d.chargeEfficiency ?? 0.95) / dt));
        soc.set(d.id, (energy + (p >= 0 ? p * (d.chargeEfficiency ?? 0.95) : p / (d.dischargeEfficiency ?? 0.95)) * dt) / d.capacityKwh);
        samples.push({ deviceId: d.id, at: new Date(t).toISOString(), powerKw: p });
      }
    }
  }
  return { samples, offlineDevices: outage.size };
}
