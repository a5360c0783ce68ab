import type { Db } from '../platform/db.ts';
import { HttpProblem } from '../platform/problem.ts';
import type { FactorOverride, FactorSetName } from '../analytics/intensity/factors.ts';
import { baFuelCodes, plantEditions, plantFigures } from './egrid-analytics-repository.ts';
import { baEmissionFactors, FALLBACK_SET, resolveEgridFactors } from './emission-factors.ts';

/**
 * The factor set `egrid-YYYY` of the intensity endpoints: every BA's eGRID-derived CO2 factor per fuel as
 * overrides of the FALLBACK_SET (lifecycle), so a fuel a BA has no eGRID plants of keeps its lifecycle factor.
 */

export const EGRID_SET_PATTERN = /^egrid-(\d{4})$/;

/** What an answer computed with an eGRID set says about its factors. */
export interface EgridProvenance {
  set: string;
  /** e.g. eGRID2022 */
  edition: string;
  fallbackSet: typeof FALLBACK_SET;
  /** EIA-930 fuel codes of the BA asked that took the fallback set's factor (no eGRID plants of that fuel in the BA) */
  fellBack: string[];
}

export interface EgridFactorSet { overrides: FactorOverride[]; provenance: EgridProvenance }

/**
 * A `factors=` choice of an intensity endpoint, resolved once for every endpoint: `base` is the set the
 * computation runs on, `overrides` (egrid-YYYY only) replace the stored per-BA overrides, `provenance` is
 * the answer's `egrid` field (null for lifecycle and direct). The string is validated by `factorChoice`
 * (analytics/intensity/intensity-routes.ts); an eGRID year without plants is a 404 naming the imported years.
 * `ba`: the BA the answer is about (its fellBack fuels); without it (every BA at once) fellBack is empty.
 */
export interface FactorChoice { name: string; base: FactorSetName; overrides?: readonly FactorOverride[]; provenance: EgridProvenance | null }

export async function resolveFactorChoice(db: Db, factors: string, ba?: string): Promise<FactorChoice> {
  if (!EGRID_SET_PATTERN.test(factors)) return { name: factors, base: factors as FactorSetName, provenance: null };
  const set = await egridFactorSet(db, factors, ba);
  return { name: factors, base: FALLBACK_SET, overrides: set.overrides, provenance: set.provenance };
}

/** The eGRID factor set of `set` (egrid-YYYY) seen from BA `ba`; 404 naming the imported years when that year has no plants. */
export async function egridFactorSet(db: Db, set: string, ba?: string): Promise<EgridFactorSet> {
  const year = Number(EGRID_SET_PATTERN.exec(set)?.[1]);
  const plants = await plantFigures(db, year);
  if (plants.length === 0) {
    const have = (await db.query<{ y: number }>('SELECT DISTINCT data_year AS y FROM egrid_plants ORDER BY 1 DESC')).map((r) => `egrid-${r.y}`);
    throw new HttpProblem(404, `no eGRID plant data for ${year}: factors can be lifecycle, direct${have.length ? `, ${have.join(', ')}` : ''}`, 'factors');
  }
  const edition = (await plantEditions(db)).find((e) => e.year === year)?.edition ?? `eGRID${year}`;
  const all = baEmissionFactors(plants);
  const overrides: FactorOverride[] = all.flatMap((b) => b.factors.map((f) => ({ ba: b.ba, fuel: f.fuel, set: FALLBACK_SET, value: f.value, source: `${edition} plants, CO2 lb/MWh × 0.4536` })));
  const fellBack = ba === undefined ? [] : resolveEgridFactors(edition, ba, all.find((b) => b.ba === ba), await baFuelCodes(db, ba)).fellBack;
  return { overrides: withAliases(overrides), provenance: { set, edition, fallbackSet: FALLBACK_SET, fellBack } };
}

/** Hybrid and unknown EIA-930 codes take the eGRID factor of their generator's fuel (SNB ← SUN, WNB ← WND, UNK ← OTH). */
function withAliases(overrides: FactorOverride[]): FactorOverride[] {
  const aliases: Record<string, string> = { SUN: 'SNB', WND: 'WNB', OTH: 'UNK' };
  return [...overrides, ...overrides.filter((o) => aliases[o.fuel]).map((o) => ({ ...o, fuel: aliases[o.fuel]! }))];
}
