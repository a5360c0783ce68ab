import type { EgridPlant } from './egrid-repository.ts';

/**
 * eGRID arithmetic: aggregates of plant rows, output and input emission rates, eGRID's non-baseload
 * weighting. Pure functions; the repository feeds them plant rows and the routes serve their answers.
 *
 * Units follow eGRID: capacity MW, generation MWh, heat input MMBtu, CO2/NOx/SO2 short tons,
 * output rates lb/MWh, input rates lb/MMBtu.
 * Source: EPA eGRID Technical Guide and EPA's eGRID production code (github.com/USEPA/egrid): an
 * aggregate is the sum of its plants' mass and generation (signed: negative net generation counts), and
 * its rate is 2,000 × tons / MWh of those same plants.
 */

export const LB_PER_SHORT_TON = 2000;
/** lb/MWh × this = kg/MWh (= g/kWh). */
export const KG_PER_LB = 0.4536;

/** eGRID's generation-by-fuel columns PLGENA{xx} and the resource-mix categories they stand for. */
export const EGRID_MIX_FUELS = ['coal', 'oil', 'gas', 'nuclear', 'hydro', 'biomass', 'wind', 'solar', 'geothermal', 'otherFossil', 'other'] as const;
export type EgridMixFuel = typeof EGRID_MIX_FUELS[number];
/** eGRID column suffix of each mix fuel (PLGENACL, STGENACL, …). */
export const MIX_CODES: Readonly<Record<EgridMixFuel, string>> = {
  coal: 'CL', oil: 'OL', gas: 'GS', nuclear: 'NC', hydro: 'HY', biomass: 'BM', wind: 'WI', solar: 'SO', geothermal: 'GT', otherFossil: 'OF', other: 'OP',
};

/** Plant columns (camelCase, from egrid_plants) behind the mix: gen{Fuel}Mwh. */
export const MIX_COLUMNS = {
  coal: 'genCoalMwh', oil: 'genOilMwh', gas: 'genGasMwh', nuclear: 'genNuclearMwh', hydro: 'genHydroMwh', biomass: 'genBiomassMwh',
  wind: 'genWindMwh', solar: 'genSolarMwh', geothermal: 'genGeothermalMwh', otherFossil: 'genOtherFossilMwh', other: 'genOtherMwh',
} as const satisfies Readonly<Record<EgridMixFuel, keyof EgridPlant>>;

/** The plant columns the analytics read (egrid_plants, one row per plant and data year); null = not reported. */
export const FIGURE_COLUMNS = ['orispl', 'plantName', 'state', 'baCode', 'subregion', 'nercRegion', 'primaryFuel', 'fuelCategory', 'latitude', 'longitude',
  'nameplateMw', 'capacityFactor', 'heatInputMmbtu', 'netGenerationMwh', 'co2ShortTons', 'noxShortTons', 'so2ShortTons',
  'genCoalMwh', 'genOilMwh', 'genGasMwh', 'genNuclearMwh', 'genHydroMwh', 'genBiomassMwh', 'genWindMwh', 'genSolarMwh', 'genGeothermalMwh',
  'genOtherFossilMwh', 'genOtherMwh'] as const satisfies readonly (keyof EgridPlant)[];
export type PlantFigures = Pick<EgridPlant, typeof FIGURE_COLUMNS[number]>;

/** Output emission rate, lb/MWh = 2,000 × short tons / MWh; null when generation is not positive or mass is unknown. */
export function outputRate(tons: number | null, mwh: number | null): number | null {
  if (tons === null || mwh === null || !(mwh > 0)) return null;
  const rate = (LB_PER_SHORT_TON * tons) / mwh;
  return Number.isFinite(rate) ? rate : null;
}

/** Input emission rate, lb/MMBtu = 2,000 × short tons / MMBtu; null when heat input is not positive. */
export function inputRate(tons: number | null, mmbtu: number | null): number | null {
  if (tons === null || mmbtu === null || !(mmbtu > 0)) return null;
  const rate = (LB_PER_SHORT_TON * tons) / mmbtu;
  return Number.isFinite(rate) ? rate : null;
}

/** lb/MWh → kg/MWh (= g/kWh). */
export const lbPerMwhToKgPerMwh = (lbPerMwh: number): number => lbPerMwh * KG_PER_LB;

/** Primary fuels eGRID leaves out of non-baseload (their plants run when the resource is there, not to follow load). */
export const NON_BASELOAD_EXCLUDED_FUELS: ReadonlySet<string> = new Set(['GEO', 'MWH', 'NUC', 'PUR', 'SUN', 'WAT', 'WND']);

/**
 * eGRID's non-baseload factor (NBFACTOR): the share of a combustion plant's generation and emissions
 * counted as non-baseload, from its annual capacity factor: 1 below 0.2, 0 above 0.8, −5/3·CF + 4/3 between.
 * Null (no share) for a plant that generated nothing (net generation ≤ 0, or a capacity factor ≤ 0 when
 * generation is not given) or whose capacity factor is unknown, and for plants whose primary fuel is
 * geothermal, energy storage, nuclear, purchased fuel, solar, hydro or wind. The file's CAPFAC is rounded
 * to 5 decimals, so a plant with a little generation shows CF 0 and still gets 1 (as EPA's eGRID2022 file has it).
 */
export function nonBaseloadFactor(capacityFactor: number | null, primaryFuel: string | null, netGenerationMwh?: number | null): number | null {
  if (capacityFactor === null || !Number.isFinite(capacityFactor)) return null;
  if (primaryFuel !== null && NON_BASELOAD_EXCLUDED_FUELS.has(primaryFuel)) return null;
  const generated = netGenerationMwh === undefined || netGenerationMwh === null ? capacityFactor > 0 : netGenerationMwh > 0;
  if (!generated) return null;
  if (capacityFactor < 0.2) return 1;
  if (capacityFactor > 0.8) return 0;
  return (-5 / 3) * capacityFactor + 4 / 3;
}

/** Sums of a set of plants and the rates derived from them. */
export interface Aggregate {
  key: string;
  plants: number;
  capacityMw: number;
  netGenerationMwh: number;
  heatInputMmbtu: number;
  co2Tons: number;
  noxTons: number;
  so2Tons: number;
  /** lb/MWh */
  co2Rate: number | null;
  noxRate: number | null;
  so2Rate: number | null;
  /** lb/MMBtu */
  co2InputRate: number | null;
  noxInputRate: number | null;
  so2InputRate: number | null;
  /** lb/MWh, eGRID's non-baseload weighting */
  nonBaseload: { co2Rate: number | null; noxRate: number | null; so2Rate: number | null; generationMwh: number };
  /** MWh by fuel and share of the total net generation (0–1, eGRID's resource mix). */
  mix: Record<EgridMixFuel, { mwh: number; share: number | null }>;
}

/** The grouping levels of /aggregates. */
export const AGGREGATE_BY = ['us', 'state', 'ba', 'subregion', 'nerc', 'fuel'] as const;
export type AggregateBy = typeof AGGREGATE_BY[number];

/** The key of a plant at a level; null when the plant has none (kept out of that level's groups). */
export function levelKey(p: PlantFigures, level: AggregateBy): string | null {
  switch (level) {
    case 'us': return 'US';
    case 'state': return p.state;
    case 'ba': return p.baCode;
    case 'subregion': return p.subregion;
    case 'nerc': return p.nercRegion;
    case 'fuel': return p.fuelCategory;
  }
}

class Sums {
  plants = 0; capacity = 0; gen = 0; heat = 0; co2 = 0; nox = 0; so2 = 0;
  nbGen = 0; nbCo2 = 0; nbNox = 0; nbSo2 = 0;
  mix = Object.fromEntries(EGRID_MIX_FUELS.map((f) => [f, 0])) as Record<EgridMixFuel, number>;

  add(p: PlantFigures): void {
    this.plants++;
    this.capacity += p.nameplateMw ?? 0;
    this.gen += p.netGenerationMwh ?? 0;
    this.heat += p.heatInputMmbtu ?? 0;
    this.co2 += p.co2ShortTons ?? 0;
    this.nox += p.noxShortTons ?? 0;
    this.so2 += p.so2ShortTons ?? 0;
    for (const f of EGRID_MIX_FUELS) this.mix[f] += p[MIX_COLUMNS[f]] ?? 0;
    const nb = nonBaseloadFactor(p.capacityFactor, p.primaryFuel, p.netGenerationMwh);
    if (nb !== null && nb > 0) {
      this.nbGen += nb * (p.netGenerationMwh ?? 0);
      this.nbCo2 += nb * (p.co2ShortTons ?? 0);
      this.nbNox += nb * (p.noxShortTons ?? 0);
      this.nbSo2 += nb * (p.so2ShortTons ?? 0);
    }
  }

  result(key: string): Aggregate {
    const share = (mwh: number) => (this.gen > 0 ? mwh / this.gen : null);
    return {
      key, plants: this.plants, capacityMw: this.capacity, netGenerationMwh: this.gen, heatInputMmbtu: this.heat,
      co2Tons: this.co2, noxTons: this.nox, so2Tons: this.so2,
      co2Rate: outputRate(this.co2, this.gen), noxRate: outputRate(this.nox, this.gen), so2Rate: outputRate(this.so2, this.gen),
      co2InputRate: inputRate(this.co2, this.heat), noxInputRate: inputRate(this.nox, this.heat), so2InputRate: inputRate(this.so2, this.heat),
      nonBaseload: {
        co2Rate: outputRate(this.nbCo2, this.nbGen), noxRate: outputRate(this.nbNox, this.nbGen), so2Rate: outputRate(this.nbSo2, this.nbGen),
        generationMwh: this.nbGen,
      },
      mix: Object.fromEntries(EGRID_MIX_FUELS.map((f) => [f, { mwh: this.mix[f], share: share(this.mix[f]) }])) as Aggregate['mix'],
    };
  }
}

/**
 * Aggregates of plants grouped at one level, sorted by key. Mass, generation (signed, as eGRID sums it),
 * heat input and capacity add; rates are recomputed from the sums, never averaged.
 */
export function aggregatePlants(plants: Iterable<PlantFigures>, level: AggregateBy): Aggregate[] {
  const groups = new Map<string, Sums>();
  for (const p of plants) {
    const key = levelKey(p, level);
    if (key === null || key === '') continue;
    let s = groups.get(key);
    if (!s) groups.set(key, (s = new Sums()));
    s.add(p);
  }
  return [...groups.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([k, s]) => s.result(k));
}

/** Relative difference (computed − published) / published; null when either is missing or published is 0. */
export function relativeDifference(computed: number | null, published: number | null): number | null {
  if (computed === null || published === null || published === 0) return null;
  return (computed - published) / Math.abs(published);
}
