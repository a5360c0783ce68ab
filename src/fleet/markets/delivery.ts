import type { TelemetryMessage } from '../messages.ts';
import type { HourAward } from './dispatch.ts';

/** A telemetry sample as delivery needs it (the fleet's gridpulse.telemetry/1: powerKw + charging, − discharging). */
export type PowerSample = Pick<TelemetryMessage, 'deviceId' | 'at' | 'powerKw'>;

export interface HourDelivery { hour: number; awardedMwh: number; deliveredMwh: number; ratio: number | null }

const HOUR = 3_600_000;

/**
 * Energy each hour from the devices' own telemetry, MWh, + charged, − discharged: each sample's power holds
 * until the device's next sample, at most `holdMs` (default 5 minutes: a device silent longer counts 0 until it
 * speaks again, so an offline device delivers nothing).
 */
export function energyByHour(samples: readonly PowerSample[], holdMs = 300_000): Map<number, number> {
  const byDevice = new Map<string, Array<{ t: number; p: number }>>();
  for (const s of samples) {
    const list = byDevice.get(s.deviceId) ?? [];
    list.push({ t: Date.parse(s.at), p: s.powerKw });
    byDevice.set(s.deviceId, list);
  }
  const out = new Map<number, number>();
  for (const list of byDevice.values()) {
    list.sort((a, b) => a.t - b.t);
    list.forEach((s, i) => {
      let from = s.t;
      const to = Math.min(s.t + holdMs, list[i + 1]?.t ?? Infinity);
      while (from < to) {
        const hour = Math.floor(from / HOUR) * HOUR;
        const until = Math.min(to, hour + HOUR);
        out.set(hour, (out.get(hour) ?? 0) + s.p * (until - from) / HOUR / 1000);
        from = until;
      }
    });
  }
  return out;
}

/**
 * Delivered against awarded per hour: delivered is the fleet's measured energy minus what its plans would have
 * done anyway (`baselineMwh` per hour, default 0), signed like the award (+ sold = discharged). ratio =
 * delivered / awarded (null for hours without award).
 */
export function deliveryReport(awards: readonly HourAward[], samples: readonly PowerSample[], baselineMwh: ReadonlyMap<number, number> = new Map()): HourDelivery[] {
  const measured = energyByHour(samples);
  return awards.map((a) => {
    const deliveredMwh = -((measured.get(a.hour) ?? 0) - (baselineMwh.get(a.hour) ?? 0)) * Math.sign(a.netMw || 1);
    const awardedMwh = Math.abs(a.netMw);
    return { hour: a.hour, awardedMwh, deliveredMwh, ratio: awardedMwh > 0 ? deliveredMwh / awardedMwh : null };
  });
}

/** Delivered / awarded over a set of hours (MWh-weighted); null without awards. */
export function totalDeliveryRatio(rows: readonly HourDelivery[]): number | null {
  const awarded = rows.reduce((s, r) => s + r.awardedMwh, 0);
  return awarded > 0 ? rows.reduce((s, r) => s + Math.min(r.deliveredMwh, r.awardedMwh), 0) / awarded : null;
}
