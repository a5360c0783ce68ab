import type { PlanInput } from './lp.ts';

/**
 * A step's battery power limits after its setpoint (see PlanInput.setpointKW): caps on charge and discharge, kW, and
 * which direction earns the setpoint's reward (shared by the LP, its objective and the rule fallback).
 */
export function stepLimits(input: PlanInput, t: number): { maxChargeKW: number; maxDischargeKW: number; toward: 'charge' | 'discharge' | null } {
  const b = input.battery, sp = input.setpointKW?.[t] ?? null;
  const charge = b.powerKW, discharge = b.dischargePowerKW ?? b.powerKW;
  if (sp === null || !Number.isFinite(sp)) return { maxChargeKW: charge, maxDischargeKW: discharge, toward: null };
  return sp > 0 ? { maxChargeKW: Math.min(charge, sp), maxDischargeKW: 0, toward: 'charge' }
    : sp < 0 ? { maxChargeKW: 0, maxDischargeKW: Math.min(discharge, -sp), toward: 'discharge' }
      : { maxChargeKW: 0, maxDischargeKW: 0, toward: null };
}
