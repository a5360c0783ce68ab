import type { AggregateLevel, EgridKind } from './egrid-repository.ts';

/**
 * Which eGRID column code fills which store column (migrations/0026_egrid.sql), per sheet kind.
 * Codes are matched upper-cased after the alias table below; columns a sheet lacks stay null and
 * codes not listed here go to `extra` / `measures`. Units are those of the store column's name.
 */
export type ValueType = 'number' | 'integer' | 'year' | 'text' | 'upper' | 'flag' | 'fips2' | 'fips3';
export interface ColumnSpec { code: string; column: string; type: ValueType }

const c = (code: string, column: string, type: ValueType = 'number'): ColumnSpec => ({ code, column, type });

/** Fuel groups of eGRID's generation (`GENAxx`, MWh) and resource-mix (`xxPR`, fraction) columns. */
const FUELS: [string, string][] = [['CL', 'coal'], ['OL', 'oil'], ['GS', 'gas'], ['NC', 'nuclear'], ['HY', 'hydro'],
  ['BM', 'biomass'], ['WI', 'wind'], ['SO', 'solar'], ['GT', 'geothermal'], ['OF', 'other_fossil'], ['OP', 'other'],
  ['TN', 'nonrenewable'], ['TR', 'renewable'], ['TH', 'nonhydro_renewable'], ['CY', 'combustion'], ['CN', 'noncombustion']];

/** Measures plants and every aggregate level share, by code without the level prefix (PL, ST, BA, SR, NR, US). */
const MEASURES: ColumnSpec[] = [
  c('HTIAN', 'heat_input_mmbtu'), c('HTIOZ', 'heat_input_ozone_mmbtu'), c('HTIANT', 'heat_input_total_mmbtu'),
  c('NGENAN', 'net_generation_mwh'), c('NGENOZ', 'net_generation_ozone_mwh'),
  c('NOXAN', 'nox_short_tons'), c('NOXOZ', 'nox_ozone_short_tons'), c('SO2AN', 'so2_short_tons'), c('CO2AN', 'co2_short_tons'),
  c('CH4AN', 'ch4_lb'), c('N2OAN', 'n2o_lb'), c('CO2EQA', 'co2e_short_tons'), c('HGAN', 'hg_lb'),
  c('NOXRTA', 'nox_rate_lb_per_mwh'), c('NOXRTO', 'nox_ozone_rate_lb_per_mwh'), c('SO2RTA', 'so2_rate_lb_per_mwh'),
  c('CO2RTA', 'co2_rate_lb_per_mwh'), c('CH4RTA', 'ch4_rate_lb_per_mwh'), c('N2ORTA', 'n2o_rate_lb_per_mwh'),
  c('C2ERTA', 'co2e_rate_lb_per_mwh'), c('HGRTA', 'hg_rate_lb_per_gwh'),
  c('NOXRA', 'nox_rate_lb_per_mmbtu'), c('SO2RA', 'so2_rate_lb_per_mmbtu'), c('CO2RA', 'co2_rate_lb_per_mmbtu'),
  c('CH4RA', 'ch4_rate_lb_per_mmbtu'), c('N2ORA', 'n2o_rate_lb_per_mmbtu'), c('C2ERA', 'co2e_rate_lb_per_mmbtu'),
  c('HGRA', 'hg_rate_lb_per_bbtu'),
  ...FUELS.map(([f, name]) => c(`GENA${f}`, `gen_${name}_mwh`)),
  ...FUELS.map(([f, name]) => c(`${f}PR`, `mix_${name}`)),
];

const prefixed = (prefix: string, specs: ColumnSpec[]) => specs.map((s) => ({ ...s, code: prefix + s.code }));

export const PLANT_COLUMNS: ColumnSpec[] = [
  c('SEQPLT', 'seq', 'integer'), c('PSTATABB', 'state', 'upper'), c('PNAME', 'plant_name', 'text'), c('ORISPL', 'orispl', 'integer'),
  c('OPRNAME', 'operator_name', 'text'), c('OPRCODE', 'operator_id', 'integer'), c('UTLSRVNM', 'utility_name', 'text'),
  c('UTLSRVID', 'utility_id', 'integer'), c('SECTOR', 'sector', 'text'), c('BANAME', 'ba_name', 'text'), c('BACODE', 'ba_code', 'upper'),
  c('NERC', 'nerc_region', 'upper'), c('SUBRGN', 'subregion', 'upper'), c('SRNAME', 'subregion_name', 'text'),
  c('ISORTO', 'iso_rto', 'text'), c('FIPSST', 'state_fips', 'fips2'), c('FIPSCNTY', 'county_fips', 'fips3'),
  c('CNTYNAME', 'county_name', 'text'), c('LAT', 'latitude'), c('LON', 'longitude'), c('CAMDFLAG', 'camd_flag', 'flag'),
  c('NUMUNT', 'unit_count', 'integer'), c('NUMGEN', 'generator_count', 'integer'), c('PLPRMFL', 'primary_fuel', 'upper'),
  c('PLFUELCT', 'fuel_category', 'upper'), c('COALFLAG', 'coal_flag', 'flag'), c('CAPFAC', 'capacity_factor'),
  c('NAMEPCAP', 'nameplate_mw'), c('NBFACTOR', 'nonbaseload_factor'), c('CHPFLAG', 'chp_flag', 'flag'),
  c('PLHTRT', 'heat_rate_btu_per_kwh'),
  ...prefixed('PL', MEASURES),
];

export const GENERATOR_COLUMNS: ColumnSpec[] = [
  c('SEQGEN', 'seq', 'integer'), c('PSTATABB', 'state', 'upper'), c('PNAME', 'plant_name', 'text'), c('ORISPL', 'orispl', 'integer'),
  c('GENID', 'generator_id', 'text'), c('NUMBLR', 'boiler_count', 'integer'), c('GENSTAT', 'status', 'upper'),
  c('PRMVR', 'prime_mover', 'upper'), c('FUELG1', 'primary_fuel', 'upper'), c('NAMEPCAP', 'nameplate_mw'),
  c('CFACT', 'capacity_factor'), c('GENNTAN', 'net_generation_mwh'), c('GENNTOZ', 'net_generation_ozone_mwh'),
  c('GENERSRC', 'generation_source', 'text'), c('GENYRONL', 'year_online', 'year'), c('GENYRRET', 'year_retired', 'year'),
];

export const UNIT_COLUMNS: ColumnSpec[] = [
  c('SEQUNT', 'seq', 'integer'), c('PSTATABB', 'state', 'upper'), c('PNAME', 'plant_name', 'text'), c('ORISPL', 'orispl', 'integer'),
  c('UNITID', 'unit_id', 'text'), c('PRMVR', 'prime_mover', 'upper'), c('UNTOPST', 'operating_status', 'upper'),
  c('CAMDFLAG', 'camd_flag', 'flag'), c('PRGCODE', 'program_codes', 'text'), c('BOTFIRTY', 'firing_type', 'text'),
  c('NUMGEN', 'generator_count', 'integer'), c('FUELU1', 'primary_fuel', 'upper'), c('HRSOP', 'operating_hours'),
  c('HTIAN', 'heat_input_mmbtu'), c('HTIOZ', 'heat_input_ozone_mmbtu'), c('NOXAN', 'nox_short_tons'),
  c('NOXOZ', 'nox_ozone_short_tons'), c('SO2AN', 'so2_short_tons'), c('CO2AN', 'co2_short_tons'), c('CH4AN', 'ch4_lb'),
  c('N2OAN', 'n2o_lb'), c('HGAN', 'hg_lb'), c('HTIANSRC', 'heat_input_source', 'text'), c('NOXANSRC', 'nox_source', 'text'),
  c('SO2SRC', 'so2_source', 'text'), c('CO2SRC', 'co2_source', 'text'), c('HGSRC', 'hg_source', 'text'),
  c('SO2CTLDV', 'so2_controls', 'text'), c('NOXCTLDV', 'nox_controls', 'text'), c('HGCTLDV', 'hg_controls', 'text'),
  c('UNTYRONL', 'year_online', 'year'),
];

/** The level prefix of each aggregate sheet's codes and the columns naming its region. */
export const AGGREGATE_PREFIX: Record<AggregateLevel, string> = { state: 'ST', ba: 'BA', subregion: 'SR', nerc: 'NR', us: 'US' };
const REGION_CODES: Record<AggregateLevel, { code?: string; name?: string }> = {
  state: { code: 'PSTATABB' }, ba: { code: 'BACODE', name: 'BANAME' }, subregion: { code: 'SUBRGN', name: 'SRNAME' },
  nerc: { code: 'NERC', name: 'NERCNAME' }, us: {},
};

export function aggregateColumns(level: AggregateLevel): ColumnSpec[] {
  const p = AGGREGATE_PREFIX[level];
  const region = REGION_CODES[level];
  return [
    ...(region.code ? [c(region.code, 'code', 'upper')] : []),
    ...(region.name ? [c(region.name, 'name', 'text')] : []),
    c(`${p}NAMEPCAP`, 'nameplate_mw'), c(`${p}NBCO2`, 'nonbaseload_co2_rate_lb_per_mwh'),
    ...prefixed(p, MEASURES),
  ];
}

export function columnsOf(kind: EgridKind): ColumnSpec[] {
  switch (kind) {
    case 'plant': return PLANT_COLUMNS;
    case 'generator': return GENERATOR_COLUMNS;
    case 'unit': return UNIT_COLUMNS;
    default: return aggregateColumns(kind);
  }
}

/** The key columns of each kind's rows (besides data_year); a row without them cannot be stored. */
export const KEY_COLUMNS: Record<EgridKind, string[]> = {
  plant: ['orispl'], generator: ['orispl', 'generator_id'], unit: ['orispl', 'unit_id'],
  state: ['code'], ba: ['code'], subregion: ['code'], nerc: ['code'], us: ['code'],
};

/**
 * Code spellings that differ by edition, as seen in EPA's workbooks and their exports: the variant
 * on the left is read as the canonical code on the right. Sequence codes carry the edition's
 * two-digit year (SEQGEN20, SEQPLT22) or none (SEQGEN in eGRID2021); both map to the plain code.
 */
export const CODE_ALIASES: readonly { variant: string; canonical: string; seenIn: string }[] = [
  { variant: 'PSTATEABB', canonical: 'PSTATABB', seenIn: 'eGRID2023 GEN23, PLNT23' },
  { variant: 'CAPDFLAG', canonical: 'CAMDFLAG', seenIn: 'eGRID2014-2016 PLNT/UNT (CAMD then "CAPD" flag)' },
  { variant: 'YEAR', canonical: 'YEAR', seenIn: 'explorer exports write "Year"' },
];
const ALIAS = new Map(CODE_ALIASES.map((a) => [a.variant, a.canonical]));
const SEQ = /^(SEQ(?:GEN|PLT|UNT|ST|BA|SRL|NRL|US))(\d{2})?$/;

/** A header cell as a canonical eGRID code (upper-case, BOM and spaces removed, aliases applied). */
export function canonicalCode(cell: string): { code: string; editionYear?: number } {
  const raw = cell.replace(/^\uFEFF/, '').trim().toUpperCase();
  const seq = SEQ.exec(raw);
  if (seq) return seq[2] ? { code: seq[1]!, editionYear: 2000 + Number(seq[2]) } : { code: seq[1]! };
  return { code: ALIAS.get(raw) ?? raw };
}

/**
 * EPA's summary tables (USEPA/ggcapdthemes) label columns in words, not codes. These are read as
 * the subregion sheet's codes; the region column holds subregions and the `US` total.
 */
export const DESCRIPTIVE_HEADERS: readonly [RegExp, string][] = [
  [/^region$/, 'SUBRGN'],
  [/^year$/, 'YEAR'],
  [/^co2 total output emission rate \(lb\/mwh\)/, 'SRCO2RTA'],
  [/^hydro$/, 'SRHYPR'],
  [/^all non-hydro renewables$/, 'SRTHPR'],
  [/^all non renewables$/, 'SRTNPR'],
  [/^all combustion$/, 'SRCYPR'],
  [/^all non combustion$/, 'SRCNPR'],
];

export function descriptiveCode(cell: string): string | undefined {
  const s = cell.replace(/^\uFEFF/, '').trim().toLowerCase().replace(/\s+/g, ' ');
  return DESCRIPTIVE_HEADERS.find(([re]) => re.test(s))?.[1];
}
