import type { Db } from '../platform/db.ts';

/**
 * The eGRID store (migrations/0026_egrid.sql): typed rows and the reads other parts of GridPulse
 * build on. Every entity is keyed by eGRID data year. Units are in the names: `_mw` MW, `_mwh` MWh,
 * `_mmbtu` MMBtu, `_short_tons` short tons (2,000 lb), `_lb` pounds, `_lb_per_mwh` output rates,
 * `_lb_per_mmbtu` input rates, Hg rates `_lb_per_gwh` / `_lb_per_bbtu`, `heatRateBtuPerKwh` Btu/kWh;
 * `capacityFactor`, `nonbaseloadFactor` and `mix*` are fractions 0..1. Null = not reported; the
 * codes EPA marked `--` (not calculated) are listed in `notCalculated`. `extra` (entities) and
 * `measures` (aggregates) keep the sheet's other columns by eGRID code (aggregates without their
 * level prefix): numbers as numbers, text as text.
 */
export type EgridValue = number | string | null;

/** The sheets eGRID publishes, by what a row is. */
export type EgridKind = 'plant' | 'unit' | 'generator' | 'state' | 'ba' | 'subregion' | 'nerc' | 'us';
/** EPA's aggregate levels (sheets STyy, BAyy, SRLyy, NRLyy, USyy). */
export type AggregateLevel = 'state' | 'ba' | 'subregion' | 'nerc' | 'us';
export const aggregateLevels: readonly AggregateLevel[] = ['state', 'ba', 'subregion', 'nerc', 'us'];

export const plantsColumns = ['data_year', 'orispl', 'seq', 'plant_name', 'state', 'county_name', 'state_fips', 'county_fips', 'latitude', 'longitude', 'operator_name', 'operator_id', 'utility_name', 'utility_id', 'sector', 'ba_code', 'ba_name', 'nerc_region', 'subregion', 'subregion_name', 'iso_rto', 'camd_flag', 'coal_flag', 'chp_flag', 'unit_count', 'generator_count', 'primary_fuel', 'fuel_category', 'nameplate_mw', 'capacity_factor', 'nonbaseload_factor', 'heat_input_mmbtu', 'heat_input_ozone_mmbtu', 'heat_input_total_mmbtu', 'net_generation_mwh', 'net_generation_ozone_mwh', 'nox_short_tons', 'nox_ozone_short_tons', 'so2_short_tons', 'co2_short_tons', 'ch4_lb', 'n2o_lb', 'co2e_short_tons', 'hg_lb', 'nox_rate_lb_per_mwh', 'nox_ozone_rate_lb_per_mwh', 'so2_rate_lb_per_mwh', 'co2_rate_lb_per_mwh', 'ch4_rate_lb_per_mwh', 'n2o_rate_lb_per_mwh', 'co2e_rate_lb_per_mwh', 'hg_rate_lb_per_gwh', 'nox_rate_lb_per_mmbtu', 'so2_rate_lb_per_mmbtu', 'co2_rate_lb_per_mmbtu', 'ch4_rate_lb_per_mmbtu', 'n2o_rate_lb_per_mmbtu', 'co2e_rate_lb_per_mmbtu', 'hg_rate_lb_per_bbtu', 'heat_rate_btu_per_kwh', 'gen_coal_mwh', 'gen_oil_mwh', 'gen_gas_mwh', 'gen_nuclear_mwh', 'gen_hydro_mwh', 'gen_biomass_mwh', 'gen_wind_mwh', 'gen_solar_mwh', 'gen_geothermal_mwh', 'gen_other_fossil_mwh', 'gen_other_mwh', 'gen_nonrenewable_mwh', 'gen_renewable_mwh', 'gen_nonhydro_renewable_mwh', 'gen_combustion_mwh', 'gen_noncombustion_mwh', 'mix_coal', 'mix_oil', 'mix_gas', 'mix_nuclear', 'mix_hydro', 'mix_biomass', 'mix_wind', 'mix_solar', 'mix_geothermal', 'mix_other_fossil', 'mix_other', 'mix_nonrenewable', 'mix_renewable', 'mix_nonhydro_renewable', 'mix_combustion', 'mix_noncombustion', 'extra', 'not_calculated', 'source_line', 'import_id'] as const;
/** Heat input (MMBtu), net generation (MWh), emissions (short tons; CH4, N2O and Hg in lb) and their output (lb/MWh, Hg lb/GWh)
 * and input (lb/MMBtu, Hg lb/BBtu) rates, as plants and EPA's aggregates both carry them. */
export interface HeatInputAndEmissions {
  heatInputMmbtu: number | null;
  heatInputOzoneMmbtu: number | null;
  heatInputTotalMmbtu: number | null;
  netGenerationMwh: number | null;
  netGenerationOzoneMwh: number | null;
  noxShortTons: number | null;
  noxOzoneShortTons: number | null;
  so2ShortTons: number | null;
  co2ShortTons: number | null;
  ch4Lb: number | null;
  n2oLb: number | null;
  co2eShortTons: number | null;
  hgLb: number | null;
  noxRateLbPerMwh: number | null;
  noxOzoneRateLbPerMwh: number | null;
  so2RateLbPerMwh: number | null;
  co2RateLbPerMwh: number | null;
  ch4RateLbPerMwh: number | null;
  n2oRateLbPerMwh: number | null;
  co2eRateLbPerMwh: number | null;
  hgRateLbPerGwh: number | null;
  noxRateLbPerMmbtu: number | null;
  so2RateLbPerMmbtu: number | null;
  co2RateLbPerMmbtu: number | null;
  ch4RateLbPerMmbtu: number | null;
  n2oRateLbPerMmbtu: number | null;
  co2eRateLbPerMmbtu: number | null;
  hgRateLbPerBbtu: number | null;
}

/** Net generation by eGRID fuel category (MWh, negative is real) and the resource mix (fractions 0–1), as plants and EPA's aggregates both carry them. */
export interface GenerationByFuel {
  genCoalMwh: number | null;
  genOilMwh: number | null;
  genGasMwh: number | null;
  genNuclearMwh: number | null;
  genHydroMwh: number | null;
  genBiomassMwh: number | null;
  genWindMwh: number | null;
  genSolarMwh: number | null;
  genGeothermalMwh: number | null;
  genOtherFossilMwh: number | null;
  genOtherMwh: number | null;
  genNonrenewableMwh: number | null;
  genRenewableMwh: number | null;
  genNonhydroRenewableMwh: number | null;
  genCombustionMwh: number | null;
  genNoncombustionMwh: number | null;
  mixCoal: number | null;
  mixOil: number | null;
  mixGas: number | null;
  mixNuclear: number | null;
  mixHydro: number | null;
  mixBiomass: number | null;
  mixWind: number | null;
  mixSolar: number | null;
  mixGeothermal: number | null;
  mixOtherFossil: number | null;
  mixOther: number | null;
  mixNonrenewable: number | null;
  mixRenewable: number | null;
  mixNonhydroRenewable: number | null;
  mixCombustion: number | null;
  mixNoncombustion: number | null;
}

export interface EgridPlant extends GenerationByFuel, HeatInputAndEmissions {
  dataYear: number;
  /** DOE/EIA ORIS plant code; null for a row of a sheet without ORISPL, keyed by `seq` (SEQPLTyy) of its edition. */
  orispl: number | null;
  seq: number | null;
  plantName: string | null;
  state: string | null;
  countyName: string | null;
  stateFips: string | null;
  countyFips: string | null;
  latitude: number | null;
  longitude: number | null;
  operatorName: string | null;
  operatorId: number | null;
  utilityName: string | null;
  utilityId: number | null;
  sector: string | null;
  baCode: string | null;
  baName: string | null;
  nercRegion: string | null;
  subregion: string | null;
  subregionName: string | null;
  isoRto: string | null;
  camdFlag: boolean | null;
  coalFlag: boolean | null;
  chpFlag: boolean | null;
  unitCount: number | null;
  generatorCount: number | null;
  primaryFuel: string | null;
  fuelCategory: string | null;
  nameplateMw: number | null;
  capacityFactor: number | null;
  nonbaseloadFactor: number | null;
  heatRateBtuPerKwh: number | null;
  extra: Record<string, EgridValue>;
  notCalculated: string[];
  sourceLine: number | null;
  importId: number | null;
}
export const unitsColumns = ['data_year', 'orispl', 'unit_id', 'seq', 'plant_name', 'state', 'prime_mover', 'operating_status', 'camd_flag', 'program_codes', 'firing_type', 'generator_count', 'primary_fuel', 'operating_hours', 'heat_input_mmbtu', 'heat_input_ozone_mmbtu', 'nox_short_tons', 'nox_ozone_short_tons', 'so2_short_tons', 'co2_short_tons', 'ch4_lb', 'n2o_lb', 'hg_lb', 'heat_input_source', 'nox_source', 'so2_source', 'co2_source', 'hg_source', 'so2_controls', 'nox_controls', 'hg_controls', 'year_online', 'extra', 'not_calculated', 'source_line', 'import_id'] as const;
export interface EgridUnit {
  dataYear: number;
  orispl: number;
  unitId: string;
  /** 1, 2, … for the rows eGRID lists under the same ORISPL + UNITID (distinct real units), in file order. */
  occurrence: number;
  seq: number | null;
  plantName: string | null;
  state: string | null;
  primeMover: string | null;
  operatingStatus: string | null;
  camdFlag: boolean | null;
  programCodes: string | null;
  firingType: string | null;
  generatorCount: number | null;
  primaryFuel: string | null;
  operatingHours: number | null;
  heatInputMmbtu: number | null;
  heatInputOzoneMmbtu: number | null;
  noxShortTons: number | null;
  noxOzoneShortTons: number | null;
  so2ShortTons: number | null;
  co2ShortTons: number | null;
  ch4Lb: number | null;
  n2oLb: number | null;
  hgLb: number | null;
  heatInputSource: string | null;
  noxSource: string | null;
  so2Source: string | null;
  co2Source: string | null;
  hgSource: string | null;
  so2Controls: string | null;
  noxControls: string | null;
  hgControls: string | null;
  yearOnline: number | null;
  extra: Record<string, EgridValue>;
  notCalculated: string[];
  sourceLine: number | null;
  importId: number | null;
}
export const generatorsColumns = ['data_year', 'orispl', 'generator_id', 'seq', 'plant_name', 'state', 'boiler_count', 'status', 'prime_mover', 'primary_fuel', 'nameplate_mw', 'capacity_factor', 'net_generation_mwh', 'net_generation_ozone_mwh', 'generation_source', 'year_online', 'year_retired', 'extra', 'not_calculated', 'source_line', 'import_id'] as const;
export interface EgridGenerator {
  dataYear: number;
  orispl: number;
  generatorId: string;
  /** 1, 2, … for the rows eGRID lists under the same ORISPL + GENID (e.g. ST and CT generators "1"), in file order. */
  occurrence: number;
  seq: number | null;
  plantName: string | null;
  state: string | null;
  boilerCount: number | null;
  status: string | null;
  primeMover: string | null;
  primaryFuel: string | null;
  nameplateMw: number | null;
  capacityFactor: number | null;
  netGenerationMwh: number | null;
  netGenerationOzoneMwh: number | null;
  generationSource: string | null;
  yearOnline: number | null;
  yearRetired: number | null;
  extra: Record<string, EgridValue>;
  notCalculated: string[];
  sourceLine: number | null;
  importId: number | null;
}
export const aggregatesColumns = ['data_year', 'level', 'code', 'name', 'nameplate_mw', 'heat_input_mmbtu', 'heat_input_ozone_mmbtu', 'heat_input_total_mmbtu', 'net_generation_mwh', 'net_generation_ozone_mwh', 'nox_short_tons', 'nox_ozone_short_tons', 'so2_short_tons', 'co2_short_tons', 'ch4_lb', 'n2o_lb', 'co2e_short_tons', 'hg_lb', 'nox_rate_lb_per_mwh', 'nox_ozone_rate_lb_per_mwh', 'so2_rate_lb_per_mwh', 'co2_rate_lb_per_mwh', 'ch4_rate_lb_per_mwh', 'n2o_rate_lb_per_mwh', 'co2e_rate_lb_per_mwh', 'hg_rate_lb_per_gwh', 'nox_rate_lb_per_mmbtu', 'so2_rate_lb_per_mmbtu', 'co2_rate_lb_per_mmbtu', 'ch4_rate_lb_per_mmbtu', 'n2o_rate_lb_per_mmbtu', 'co2e_rate_lb_per_mmbtu', 'hg_rate_lb_per_bbtu', 'nonbaseload_co2_rate_lb_per_mwh', 'gen_coal_mwh', 'gen_oil_mwh', 'gen_gas_mwh', 'gen_nuclear_mwh', 'gen_hydro_mwh', 'gen_biomass_mwh', 'gen_wind_mwh', 'gen_solar_mwh', 'gen_geothermal_mwh', 'gen_other_fossil_mwh', 'gen_other_mwh', 'gen_nonrenewable_mwh', 'gen_renewable_mwh', 'gen_nonhydro_renewable_mwh', 'gen_combustion_mwh', 'gen_noncombustion_mwh', 'mix_coal', 'mix_oil', 'mix_gas', 'mix_nuclear', 'mix_hydro', 'mix_biomass', 'mix_wind', 'mix_solar', 'mix_geothermal', 'mix_other_fossil', 'mix_other', 'mix_nonrenewable', 'mix_renewable', 'mix_nonhydro_renewable', 'mix_combustion', 'mix_noncombustion', 'measures', 'not_calculated', 'source_line', 'import_id'] as const;
export interface EgridAggregate extends GenerationByFuel, HeatInputAndEmissions {
  dataYear: number;
  level: AggregateLevel;
  code: string;
  name: string | null;
  nameplateMw: number | null;
  nonbaseloadCo2RateLbPerMwh: number | null;
  measures: Record<string, EgridValue>;
  notCalculated: string[];
  sourceLine: number | null;
  importId: number | null;
}

export type ImportStatus = 'queued' | 'running' | 'succeeded' | 'partial' | 'failed';

/** One sheet's outcome within an import. */
export interface ImportSheetResult {
  sheet: string;
  kind: EgridKind;
  dataYear: number;
  rowsRead: number;
  rowsLoaded: number;
  rowsRejected: number;
  /** Rows of that year and kind the import replaced. */
  replaced: number;
}

/** A row-level problem: `line` is the CSV line or XLSX row (1-based), `column` the eGRID code. */
export interface ImportRowError {
  sheet: string;
  line: number;
  column: string | null;
  code: string;
  message: string;
}

export interface EgridImport {
  id: number;
  fileSha256: string;
  fileName: string;
  source: 'upload' | 'cli';
  requestedYear: number | null;
  status: ImportStatus;
  phase: string | null;
  bytesTotal: number | null;
  bytesRead: number;
  rowsRead: number;
  rowsLoaded: number;
  rowsRejected: number;
  sheets: ImportSheetResult[];
  /** The first row errors (capped); `rowsRejected` counts them all. */
  errors: ImportRowError[];
  message: string | null;
  createdBy: string | null;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
}

export type EgridMediaType = 'text/csv' | 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';

export interface EgridFile {
  sha256: string;
  byteSize: number;
  mediaType: EgridMediaType;
  originalName: string;
  /** Relative to DATA_DIR. */
  storagePath: string;
  uploadedBy: string | null;
  uploadedAt: Date;
  formulaCells: number;
}

/** Which import holds a data year's sheet now. */
export interface EgridDataset {
  dataYear: number;
  kind: EgridKind;
  /** e.g. `eGRID2022` */
  edition: string;
  importId: number;
  fileSha256: string;
  sheet: string;
  rowCount: number;
  loadedAt: Date;
}

const camel = (s: string) => s.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
/** `col AS "col"` in camelCase: one mapper for every eGRID table. */
export const selectList = (columns: readonly string[], alias = '') =>
  columns.map((c) => `${alias}${c} AS "${camel(c)}"`).join(', ');

// bigint arrives as a string from postgres.js
const numeric = <T extends object>(row: T, keys: (keyof T)[]): T => {
  for (const k of keys) if (row[k] != null) (row as Record<keyof T, unknown>)[k] = Number(row[k]);
  return row;
};

/** Data years with plant rows, newest first. */
export async function plantYears(db: Db): Promise<number[]> {
  return (await db.query<{ y: number }>('SELECT DISTINCT data_year AS y FROM egrid_plants ORDER BY 1 DESC')).map((r) => r.y);
}

/** Every plant of a data year, by ORISPL. */
export function listPlants(db: Db, dataYear: number): Promise<EgridPlant[]> {
  return db.query<EgridPlant>(`SELECT ${selectList(plantsColumns)} FROM egrid_plants WHERE data_year = $1 ORDER BY orispl NULLS LAST, seq`, [dataYear]);
}

/** One plant in one year, or undefined. */
export async function getPlant(db: Db, dataYear: number, orispl: number): Promise<EgridPlant | undefined> {
  return (await db.query<EgridPlant>(`SELECT ${selectList(plantsColumns)} FROM egrid_plants WHERE data_year = $1 AND orispl = $2`, [dataYear, orispl]))[0];
}

/** A plant in every imported year, oldest first. */
export function plantHistory(db: Db, orispl: number): Promise<EgridPlant[]> {
  return db.query<EgridPlant>(`SELECT ${selectList(plantsColumns)} FROM egrid_plants WHERE orispl = $1 ORDER BY data_year`, [orispl]);
}

/** Generators of a year, of one plant when orispl is given. */
export function listGenerators(db: Db, dataYear: number, orispl?: number): Promise<EgridGenerator[]> {
  return orispl === undefined
    ? db.query<EgridGenerator>(`SELECT ${selectList([...generatorsColumns, 'occurrence'])} FROM egrid_generators WHERE data_year = $1 ORDER BY orispl, generator_id, occurrence`, [dataYear])
    : db.query<EgridGenerator>(`SELECT ${selectList([...generatorsColumns, 'occurrence'])} FROM egrid_generators WHERE data_year = $1 AND orispl = $2 ORDER BY generator_id, occurrence`, [dataYear, orispl]);
}

/** Units of a year, of one plant when orispl is given. */
export function listUnits(db: Db, dataYear: number, orispl?: number): Promise<EgridUnit[]> {
  return orispl === undefined
    ? db.query<EgridUnit>(`SELECT ${selectList([...unitsColumns, 'occurrence'])} FROM egrid_units WHERE data_year = $1 ORDER BY orispl, unit_id, occurrence`, [dataYear])
    : db.query<EgridUnit>(`SELECT ${selectList([...unitsColumns, 'occurrence'])} FROM egrid_units WHERE data_year = $1 AND orispl = $2 ORDER BY unit_id, occurrence`, [dataYear, orispl]);
}

/** EPA's published aggregates of a year and level, by code. */
export function listAggregates(db: Db, dataYear: number, level: AggregateLevel): Promise<EgridAggregate[]> {
  return db.query<EgridAggregate>(`SELECT ${selectList(aggregatesColumns)} FROM egrid_aggregates WHERE data_year = $1 AND level = $2 ORDER BY code`, [dataYear, level]);
}

/** What is loaded, per data year and kind. */
export function listDatasets(db: Db): Promise<EgridDataset[]> {
  return db.query<EgridDataset>(`SELECT data_year AS "dataYear", kind, edition, import_id AS "importId", file_sha256 AS "fileSha256",
    sheet, row_count AS "rowCount", loaded_at AS "loadedAt" FROM egrid_datasets ORDER BY data_year DESC, kind`);
}

const importColumns = `id, file_sha256 AS "fileSha256", file_name AS "fileName", source, requested_year AS "requestedYear", status, phase,
  bytes_total AS "bytesTotal", bytes_read AS "bytesRead", rows_read AS "rowsRead", rows_loaded AS "rowsLoaded",
  rows_rejected AS "rowsRejected", sheets, errors, message, created_by AS "createdBy", created_at AS "createdAt",
  started_at AS "startedAt", finished_at AS "finishedAt"`;

export async function getImport(db: Db, id: number): Promise<EgridImport | undefined> {
  const row = (await db.query<EgridImport>(`SELECT ${importColumns} FROM egrid_imports WHERE id = $1`, [id]))[0];
  return row && numeric(row, ['bytesTotal', 'bytesRead']);
}

/** Imports, newest first. */
export async function listImports(db: Db, limit = 50): Promise<EgridImport[]> {
  const rows = await db.query<EgridImport>(`SELECT ${importColumns} FROM egrid_imports ORDER BY id DESC LIMIT $1`, [limit]);
  return rows.map((r) => numeric(r, ['bytesTotal', 'bytesRead']));
}

const fileColumns = `sha256, byte_size AS "byteSize", media_type AS "mediaType", original_name AS "originalName",
  storage_path AS "storagePath", uploaded_by AS "uploadedBy", uploaded_at AS "uploadedAt", formula_cells AS "formulaCells"`;

export async function getFile(db: Db, sha256: string): Promise<EgridFile | undefined> {
  const row = (await db.query<EgridFile>(`SELECT ${fileColumns} FROM egrid_files WHERE sha256 = $1`, [sha256]))[0];
  return row && numeric(row, ['byteSize']);
}
