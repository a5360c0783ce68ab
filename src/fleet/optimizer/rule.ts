import type { Plan, PlanInput } from './lp.ts';
import { stepLimits } from './step-limits.ts';

/** The rule's fixed hours (local time): charge in the night, discharge in the evening peak. */
export const RULE_HOURS = { chargeFrom: 1, chargeTo: 5, dischargeFrom: 17, dischargeTo: 21 } as const;

/** One line on how the rule decides (printed with rule baselines and fallbacks). */
export const RULE_DESCRIPTION = `charge at full power from ${RULE_HOURS.chargeFrom}:00 to ${RULE_HOURS.chargeTo}:00 local time (the cheapest hours of most US days) up to the upper SoC, `
  + `discharge from ${RULE_HOURS.dischargeFrom}:00 to ${RULE_HOURS.dischargeTo}:00 to cover the home's own load (never exporting) down to the reserve`;

/**
 * The rule-based plan (baseline, and the fallback when the LP cannot be solved): see RULE_DESCRIPTION. It reads
 * `localHour` of each step (UTC hour-of-step index when absent) and respects the same power, SoC, reserve and
 * efficiency limits as the LP and follows setpoints (PlanInput.setpointKW); it ignores prices, so it never fails.
 */
export function ruleDispatch(input: PlanInput): Plan {
  const b = input.battery, dt = input.stepHours, n = input.importPrice.length;
  const reserve = Math.min(b.reserveKWh ?? 0, b.capacityKWh);
  const upper = Math.min(b.maxSoCKWh ?? b.capacityKWh, b.capacityKWh);
  let soc = Math.min(Math.max(input.initialSoCKWh, 0), b.capacityKWh);
  const plan: Plan = { method: 'rule-fallback', chargeKW: [], dischargeKW: [], importKW: [], exportKW: [], socKWh: [], objective: NaN };
  for (let t = 0; t < n; t++) {
    const hour = input.localHour ? input.localHour[t]! : Math.floor(t * dt) % 24;
    const net = input.loadKW[t]! - (input.pvKW ? input.pvKW[t]! : 0);
    let c = 0, d = 0;
    const lim = stepLimits(input, t);
    if (input.setpointKW?.[t] != null) {
      // a setpoint (OpenADR DISPATCH_SETPOINT) is followed as far as SoC, reserve and upper SoC allow
      if (lim.toward === 'charge') c = Math.max(0, Math.min(lim.maxChargeKW, (upper - soc) / (b.chargeEfficiency * dt)));
      else if (lim.toward === 'discharge') d = Math.max(0, Math.min(lim.maxDischargeKW, ((soc - reserve) * b.dischargeEfficiency) / dt));
    } else if (hour >= RULE_HOURS.chargeFrom && hour < RULE_HOURS.chargeTo) {
      c = Math.max(0, Math.min(b.powerKW, (upper - soc) / (b.chargeEfficiency * dt)));
    } else if (hour >= RULE_HOURS.dischargeFrom && hour < RULE_HOURS.dischargeTo && net > 0) {
      d = Math.max(0, Math.min(b.dischargePowerKW ?? b.powerKW, net, ((soc - reserve) * b.dischargeEfficiency) / dt));
    }
    soc += (b.chargeEfficiency * c - d / b.dischargeEfficiency) * dt;
    const grid = net + c - d;
    plan.chargeKW.push(c); plan.dischargeKW.push(d);
    plan.importKW.push(Math.max(0, grid)); plan.exportKW.push(Math.max(0, -grid));
    plan.socKWh.push(soc);
  }
  return plan;
}
