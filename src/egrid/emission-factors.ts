import { defaultFactor, type FactorSetName } from '../analytics/intensity/factors.ts';
import { lbPerMwhToKgPerMwh, outputRate, type PlantFigures } from './egrid-rates.ts';

/**
 * eGRID-derived emission factors: per balancing authority and EIA-930 fuel code, the generation-weighted
 * CO2 output rate of the BA's plants of that fuel (2,000 × Σ tons / Σ MWh, lb/MWh), converted to
 * kg/MWh (= g/kWh) by × 0.4536. A plant's emissions and generation count under its primary fuel
 * category (PLFUELCT), because eGRID does not split a plant's emissions by fuel.
 * These are direct (stack) CO2 factors of the eGRID data year, not lifecycle factors.
 */

/** eGRID fuel category (PLFUELCT) → EIA-930 fuel code. Biomass, other fossil and other fuels are EIA-930's OTH. */
export const CATEGORY_TO_EIA930: Readonly<Record<string, string>> = {
  COAL: 'COL', GAS: 'NG', OIL: 'OIL', NUCLEAR: 'NUC', HYDRO: 'WAT', WIND: 'WND', SOLAR: 'SUN', GEOTHERMAL: 'GEO',
  BIOMASS: 'OTH', OFSL: 'OTH', OTHF: 'OTH',
};

/** EIA-930 fuel codes an eGRID factor set can cover. */
export const EGRID_FACTOR_FUELS = ['COL', 'NG', 'OIL', 'NUC', 'WAT', 'WND', 'SUN', 'GEO', 'OTH'] as const;

/** The set whose factor a fuel takes where the BA has no eGRID plants of it. */
export const FALLBACK_SET = 'lifecycle' as const satisfies FactorSetName;

export interface BaFuelFactor {
  fuel: string;
  /** kg/MWh = gCO2/kWh */
  value: number;
  /** lb/MWh, as eGRID publishes rates */
  lbPerMwh: number;
  plants: number;
  generationMwh: number;
  co2Tons: number;
}

export interface BaFactors {
  ba: string;
  factors: BaFuelFactor[];
}

/** The EIA-930 code of a plant, or null when its fuel category is unknown. */
export function eia930Fuel(p: Pick<PlantFigures, 'fuelCategory'>): string | null {
  return p.fuelCategory ? CATEGORY_TO_EIA930[p.fuelCategory.toUpperCase()] ?? null : null;
}

/**
 * Per BA and fuel: generation-weighted CO2 rate of plants with positive net generation and a known CO2
 * mass (a plant that consumed more than it made would weigh negatively). Sorted by BA, then fuel.
 */
export function baEmissionFactors(plants: Iterable<PlantFigures>): BaFactors[] {
  const sums = new Map<string, Map<string, { gen: number; co2: number; plants: number }>>();
  for (const p of plants) {
    const fuel = eia930Fuel(p);
    if (!p.baCode || !fuel || p.netGenerationMwh === null || !(p.netGenerationMwh > 0)) continue;
    const co2 = p.co2ShortTons ?? (fuel === 'COL' || fuel === 'NG' || fuel === 'OIL' ? null : 0);
    if (co2 === null) continue;
    let byFuel = sums.get(p.baCode);
    if (!byFuel) sums.set(p.baCode, (byFuel = new Map()));
    const s = byFuel.get(fuel) ?? { gen: 0, co2: 0, plants: 0 };
    s.gen += p.netGenerationMwh;
    s.co2 += co2;
    s.plants++;
    byFuel.set(fuel, s);
  }
  return [...sums.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([ba, byFuel]) => ({
    ba,
    factors: [...byFuel.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([fuel, s]) => {
      const lb = outputRate(s.co2, s.gen)!;
      return { fuel, value: lbPerMwhToKgPerMwh(lb), lbPerMwh: lb, plants: s.plants, generationMwh: s.gen, co2Tons: s.co2 };
    }),
  }));
}

/** A factor set for one BA: eGRID where the BA has plants of the fuel, else FALLBACK_SET, and which fuels fell back. */
export interface ResolvedEgridFactors {
  edition: string;
  ba: string;
  factors: Record<string, number>;
  fellBack: string[];
}

/**
 * eGRID factors of one BA for the codes `fuels` (EIA-930 codes seen in its data), with the fallback per
 * fuel named. Storage codes are left out: they have no factor of their own (STORAGE_RULE).
 */
export function resolveEgridFactors(edition: string, ba: string, own: BaFactors | undefined, fuels: Iterable<string>): ResolvedEgridFactors {
  const mine = new Map((own?.factors ?? []).map((f) => [f.fuel, f.value]));
  const factors: Record<string, number> = {};
  const fellBack: string[] = [];
  for (const code of [...new Set(fuels)].sort()) {
    const fallback = defaultFactor(code, FALLBACK_SET);
    if (fallback === undefined) continue;
    const egridCode = CODE_ALIASES[code] ?? code;
    const value = mine.get(egridCode);
    if (value === undefined) { factors[code] = fallback; fellBack.push(code); } else factors[code] = value;
  }
  return { edition, ba, factors, fellBack };
}

/** EIA-930 codes that take another code's eGRID factor: hybrids take their generator's fuel, UNK takes OTH. */
const CODE_ALIASES: Readonly<Record<string, string>> = { SNB: 'SUN', WNB: 'WND', UNK: 'OTH' };
