import type { Db } from '../../platform/db.ts';

/** The two emission factor sets (gCO2eq/kWh = kg/MWh). */
export type FactorSetName = 'lifecycle' | 'direct';
export const FACTOR_SETS: readonly FactorSetName[] = ['lifecycle', 'direct'];

/** Technology categories the factor sets are defined on (METHODS.md "Emission factors"). */
export type FuelCategory = 'coal' | 'gas' | 'oil' | 'nuclear' | 'hydro' | 'wind' | 'solar' | 'biomass' | 'geothermal' | 'unknown' | 'storage';

/**
 * Lifecycle: IPCC AR5 (2014) median lifecycle values as used by Electricity Maps.
 * Direct: combustion-only values as used by Electricity Maps (zero for non-combustion sources).
 * Storage has no factor of its own: see STORAGE_RULE.
 */
export const CATEGORY_FACTORS: Readonly<Record<Exclude<FuelCategory, 'storage'>, Readonly<Record<FactorSetName, number>>>> = {
  coal: { lifecycle: 820, direct: 760 },
  gas: { lifecycle: 490, direct: 370 },
  oil: { lifecycle: 650, direct: 406 },
  nuclear: { lifecycle: 12, direct: 0 },
  hydro: { lifecycle: 24, direct: 0 },
  wind: { lifecycle: 11, direct: 0 },
  solar: { lifecycle: 45, direct: 0 },
  biomass: { lifecycle: 230, direct: 0 },
  geothermal: { lifecycle: 38, direct: 0 },
  unknown: { lifecycle: 700, direct: 575 },
};

export interface FuelInfo {
  code: string;
  name: string;
  category: FuelCategory;
  renewable: boolean;
  carbonFree: boolean;
}

/**
 * EIA-930 `fueltype` codes. Hybrid plants (solar or wind with an integrated battery) take their
 * generator's category: their output is mostly that generation, and EIA does not split it.
 * BIO is not an EIA-930 code; it is listed for external sources and eGRID-derived data.
 */
export const FUELS: readonly FuelInfo[] = [
  { code: 'COL', name: 'Coal', category: 'coal', renewable: false, carbonFree: false },
  { code: 'NG', name: 'Natural gas', category: 'gas', renewable: false, carbonFree: false },
  { code: 'OIL', name: 'Petroleum', category: 'oil', renewable: false, carbonFree: false },
  { code: 'NUC', name: 'Nuclear', category: 'nuclear', renewable: false, carbonFree: true },
  { code: 'WAT', name: 'Hydro', category: 'hydro', renewable: true, carbonFree: true },
  { code: 'WND', name: 'Wind', category: 'wind', renewable: true, carbonFree: true },
  { code: 'WNB', name: 'Wind with integrated battery storage', category: 'wind', renewable: true, carbonFree: true },
  { code: 'SUN', name: 'Solar', category: 'solar', renewable: true, carbonFree: true },
  { code: 'SNB', name: 'Solar with integrated battery storage', category: 'solar', renewable: true, carbonFree: true },
  { code: 'GEO', name: 'Geothermal', category: 'geothermal', renewable: true, carbonFree: true },
  { code: 'BIO', name: 'Biomass', category: 'biomass', renewable: true, carbonFree: false },
  { code: 'OTH', name: 'Other', category: 'unknown', renewable: false, carbonFree: false },
  { code: 'UNK', name: 'Unknown', category: 'unknown', renewable: false, carbonFree: false },
  { code: 'BAT', name: 'Battery storage', category: 'storage', renewable: false, carbonFree: false },
  { code: 'PS', name: 'Pumped storage', category: 'storage', renewable: false, carbonFree: false },
  { code: 'OES', name: 'Other energy storage', category: 'storage', renewable: false, carbonFree: false },
  { code: 'UES', name: 'Unknown energy storage', category: 'storage', renewable: false, carbonFree: false },
];

const BY_CODE = new Map(FUELS.map((f) => [f.code, f]));

/** Fuel info for any code: codes GridPulse does not know yet count as 'unknown/other' (700 / 575). */
export function fuelInfo(code: string): FuelInfo {
  return BY_CODE.get(code) ?? { code, name: `Unrecognised fuel ${code}`, category: 'unknown', renewable: false, carbonFree: false };
}

export function isStorage(code: string): boolean {
  return fuelInfo(code).category === 'storage';
}

export const STORAGE_RULE =
  'Storage (EIA codes BAT, PS, OES, UES) has no emission factor of its own. Discharge (positive values) is generation ' +
  'that takes the intensity of the BA\'s non-storage generation in the same hour, so it adds energy but does not change ' +
  'the production-based intensity; charging (negative values) is consumption, not generation, and is left out. ' +
  'An hour with storage discharge but no other generation has no production intensity (flag no-generation).';

export const NEGATIVE_GENERATION_RULE =
  'Only positive generation counts: negative values (station load of wind and solar at night, pumping, battery charging) ' +
  'are consumption, not generation, and are left out of both the emissions and the generation sums.';

/** A stored per-BA override of one factor (eGRID-derived factors arrive in a later issue). */
export interface FactorOverride { ba: string; fuel: string; set: FactorSetName; value: number; source: string }

/** Resolves the factor of a non-storage fuel code for one BA and set. */
export type FactorLookup = (code: string) => number;

/** The default factor of a code in a set; storage codes have none (undefined). */
export function defaultFactor(code: string, set: FactorSetName): number | undefined {
  const category = fuelInfo(code).category;
  return category === 'storage' ? undefined : CATEGORY_FACTORS[category][set];
}

/** Factor lookup for one BA: its override when one exists, else the set's default for the code's category. */
export function factorLookup(set: FactorSetName, ba: string, overrides: readonly FactorOverride[] = []): FactorLookup {
  const own = new Map(overrides.filter((o) => o.ba === ba && o.set === set).map((o) => [o.fuel, o.value]));
  return (code) => own.get(code) ?? defaultFactor(code, set) ?? CATEGORY_FACTORS.unknown[set];
}

/** `{ COL: 820, … }` for every known non-storage code. */
export function factorTable(set: FactorSetName): Record<string, number> {
  const out: Record<string, number> = {};
  for (const f of FUELS) {
    const v = defaultFactor(f.code, set);
    if (v !== undefined) out[f.code] = v;
  }
  return out;
}

export async function loadFactorOverrides(db: Db): Promise<FactorOverride[]> {
  return db.query<FactorOverride>(
    `SELECT ba_code AS ba, fuel, factor_set AS set, value, source FROM emission_factor_overrides ORDER BY ba_code, fuel, factor_set`);
}

/** Inserts or replaces overrides (used by the eGRID import later and by tests). */
export async function upsertFactorOverrides(db: Db, rows: readonly FactorOverride[]): Promise<void> {
  if (rows.length === 0) return;
  await db.query(
    `INSERT INTO emission_factor_overrides (ba_code, fuel, factor_set, value, source)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::float8[], $5::text[])
     ON CONFLICT (ba_code, fuel, factor_set) DO UPDATE SET value = EXCLUDED.value, source = EXCLUDED.source, updated_at = now()`,
    [rows.map((r) => r.ba), rows.map((r) => r.fuel), rows.map((r) => r.set), rows.map((r) => r.value), rows.map((r) => r.source)]);
}
