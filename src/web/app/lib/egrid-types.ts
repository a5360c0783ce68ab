/** Shapes of the eGRID API answers the pages read (see the OpenAPI document for units). */

/** A data year as /api/v1/egrid/years lists it; the pages offer only years with plants (plants > 0). */
export interface EgridYear { year: number; edition: string; plants: number; sheets?: { kind: string; rows: number }[] }
/** [orispl, latitude, longitude, nameplate MW, fuel category, plant name, map x, map y] */
export type PlantPoint = [number, number, number, number | null, string | null, string | null, number | null, number | null];
export interface PlantPoints { year: number; edition: string; points: PlantPoint[] }
export interface UsMap { width: number; height: number; states: Array<{ id: string; name: string; d: string }> }
export interface PlantRow {
  orispl: number | null; plantName: string | null; state: string | null; baCode: string | null; subregion: string | null; primaryFuel: string | null; fuelCategory: string | null;
  nameplateMw: number | null; capacityFactor: number | null; netGenerationMwh: number | null; co2ShortTons: number | null; co2RateLbPerMwh: number | null;
  latitude: number | null; longitude: number | null; operatorName: string | null; countyName: string | null; nercRegion: string | null;
}
export interface PlantPage { year: number; edition: string; total: number; page: number; pageSize: number; data: PlantRow[] }
export interface PlantDetail {
  year: number; edition: string; plant: Record<string, unknown> & PlantRow;
  generators: Array<{ generatorId: string; status: string | null; primeMover: string | null; primaryFuel: string | null; nameplateMw: number | null; capacityFactor: number | null; netGenerationMwh: number | null; yearOnline: number | null }>;
  units: Array<{ unitId: string; primeMover: string | null; primaryFuel: string | null; heatInputMmbtu: number | null; co2ShortTons: number | null }>;
  history: Array<{ year: number; nameplateMw: number | null; netGenerationMwh: number | null; co2ShortTons: number | null; co2RateLbPerMwh: number | null; primaryFuel: string | null }>;
}
export interface EgridReport {
  year: number; edition: string; level: 'state' | 'ba' | 'subregion'; code: string; plants: number; capacityMw: number; netGenerationMwh: number; co2Tons: number;
  rates: Array<{ pollutant: 'co2' | 'nox' | 'so2'; region: number | null; us: number | null; ratio: number | null; nonBaseloadRegion: number | null; nonBaseloadUs: number | null }>;
  mix: Array<{ fuel: string; mwh: number; share: number | null; usShare: number | null }>;
  topEmitters: Array<{ orispl: number | null; plantName: string | null; state: string | null; baCode: string | null; fuelCategory: string | null; tons: number; rateLbPerMwh: number | null; netGenerationMwh: number | null }>;
  points: PlantPoint[];
}
export interface Aggregates { year: number; by: string; data: Array<{ key: string; plants: number; co2Rate: number | null; netGenerationMwh: number }> }

/** eGRID fuel categories (PLFUELCT): colour (Okabe–Ito based, as the fuel charts) and name. */
export const EGRID_FUELS: Record<string, { name: string; colour: string }> = {
  COAL: { name: 'Coal', colour: '#4d4d4d' }, GAS: { name: 'Gas', colour: '#e69f00' }, OIL: { name: 'Oil', colour: '#a6611a' },
  NUCLEAR: { name: 'Nuclear', colour: '#cc79a7' }, HYDRO: { name: 'Hydro', colour: '#0072b2' }, WIND: { name: 'Wind', colour: '#56b4e9' },
  SOLAR: { name: 'Solar', colour: '#f0e442' }, GEOTHERMAL: { name: 'Geothermal', colour: '#d55e00' }, BIOMASS: { name: 'Biomass', colour: '#009e73' },
  OFSL: { name: 'Other fossil', colour: '#7f7f7f' }, OTHF: { name: 'Other', colour: '#bbbbbb' },
};
export const egridFuelColour = (c: string | null) => (c && EGRID_FUELS[c]?.colour) || '#bbbbbb';
export const egridFuelName = (c: string | null) => (c && EGRID_FUELS[c]?.name) || c || 'unknown';
