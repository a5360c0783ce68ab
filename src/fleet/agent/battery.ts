import type { Command } from './command.ts';

/** What the battery measures now: SoC in percent of usable capacity, power in kW (+ charging, − discharging). */
export interface BatteryReading { socPct: number; powerKw: number }

/**
 * The seam between the agent and the hardware. The agent calls `apply` whenever the command changes and at every
 * step, and `read` for telemetry. A driver clamps to its own limits (power, SoC window) rather than failing; it
 * throws only when the hardware cannot be reached, which the agent reports as a `failed` ack.
 * The next implementation is a Modbus TCP / SunSpec driver (models 802 battery base and 124 storage controls:
 * write the charge/discharge setpoint registers, read SoC and W) behind this same interface.
 */
export interface BatteryDriver {
  apply(command: Command): Promise<void>;
  read(): Promise<BatteryReading>;
  close?(): Promise<void>;
}

/** A battery's ratings: energy kWh, power kW, round-trip split into one-way efficiencies (0–1], SoC limits in %. */
export interface BatterySpec {
  capacityKwh: number;
  maxChargeKw: number;
  maxDischargeKw: number;
  chargeEfficiency: number;
  dischargeEfficiency: number;
  minSoc: number;
  maxSoc: number;
  /** The SoC the discharge never goes below in self-consumption (backup reserve), %. */
  reserveSoc: number;
}

export const DEFAULT_BATTERY: BatterySpec = {
  capacityKwh: 13.5, maxChargeKw: 5, maxDischargeKw: 5, chargeEfficiency: 0.95, dischargeEfficiency: 0.95, minSoc: 5, maxSoc: 100, reserveSoc: 20,
};

/**
 * A simulated home battery with SoC dynamics: energy stored changes by P·Δt·ηc while charging and by −P·Δt/ηd
 * while discharging, power clamped to the ratings and to zero at the SoC limits (and at a target SoC when the
 * command carries one). `hold-soc` holds the SoC at the target (or where it is), `idle` does nothing, and
 * `self-consumption` serves a synthetic home load (evening peak) down to the reserve and absorbs a midday solar
 * surplus. Time comes from `now` (ms since the epoch), so a fake clock moves it; state is integrated lazily up to
 * each call.
 */
export class SimulatedBattery implements BatteryDriver {
  private soc: number;
  private command: Command = { mode: 'idle', powerKw: 0, version: 0, source: 'fallback' };
  private lastMs: number;
  private lastPowerKw = 0;

  readonly spec: BatterySpec;
  private readonly now: () => number;

  constructor(spec: BatterySpec, now: () => number, initialSoc = 50) {
    this.spec = spec;
    this.now = now;
    this.soc = Math.min(spec.maxSoc, Math.max(spec.minSoc, initialSoc));
    this.lastMs = now();
  }

  /** The power (kW, + charging) the battery would run at now under the command, before the SoC limits of this step. */
  private setpoint(atMs: number): number {
    const c = this.command;
    const { maxChargeKw, maxDischargeKw } = this.spec;
    switch (c.mode) {
      case 'charge': return c.targetSoc !== undefined && this.soc >= c.targetSoc ? 0 : Math.min(c.powerKw, maxChargeKw);
      case 'discharge': return c.targetSoc !== undefined && this.soc <= c.targetSoc ? 0 : -Math.min(c.powerKw, maxDischargeKw);
      case 'hold-soc': {
        const target = c.targetSoc ?? this.soc;
        const gapKwh = ((target - this.soc) / 100) * this.spec.capacityKwh;
        // close the gap over about 15 minutes, within the ratings
        return Math.max(-maxDischargeKw, Math.min(maxChargeKw, gapKwh * 4));
      }
      case 'self-consumption': {
        const hour = new Date(atMs).getUTCHours();
        const solarSurplusKw = hour >= 16 && hour < 22 ? 2 : 0; // midday in the continental US, UTC
        const homeLoadKw = hour >= 0 && hour < 4 ? 1.5 : 0.4; // evening peak
        if (solarSurplusKw > 0) return Math.min(solarSurplusKw, maxChargeKw);
        return this.soc <= this.spec.reserveSoc ? 0 : -Math.min(homeLoadKw, maxDischargeKw);
      }
      default: return 0;
    }
  }

  /** Integrates SoC from the last call to now, one minute at a time at most, so limits and targets bind on time. */
  private advance(): void {
    const to = this.now();
    const { capacityKwh, chargeEfficiency, dischargeEfficiency, minSoc, maxSoc } = this.spec;
    while (this.lastMs < to) {
      const stepMs = Math.min(60_000, to - this.lastMs);
      const hours = stepMs / 3_600_000;
      let p = this.setpoint(this.lastMs);
      const headroomKwh = ((maxSoc - this.soc) / 100) * capacityKwh;
      const availableKwh = ((this.soc - minSoc) / 100) * capacityKwh;
      if (p > 0) p = Math.min(p, headroomKwh / chargeEfficiency / hours);
      if (p < 0) p = -Math.min(-p, (availableKwh * dischargeEfficiency) / hours);
      const storedKwh = p > 0 ? p * hours * chargeEfficiency : (p * hours) / dischargeEfficiency;
      this.soc = Math.min(maxSoc, Math.max(minSoc, this.soc + (storedKwh / capacityKwh) * 100));
      this.lastPowerKw = p;
      this.lastMs += stepMs;
    }
  }

  async apply(command: Command): Promise<void> {
    this.advance();
    this.command = command;
  }

  async read(): Promise<BatteryReading> {
    this.advance();
    return { socPct: Math.round(this.soc * 100) / 100, powerKw: Math.round(this.lastPowerKw * 1000) / 1000 || 0 };
  }
}
