import { NEGATIVE_GENERATION_RULE, STORAGE_RULE } from '../intensity/factors.ts';
import { PAIR_TOLERANCE } from '../intensity/flow-tracing.ts';

/**
 * Definitions of the carbon metrics, written once and reused in the OpenAPI descriptions (and by the
 * web's /methodology page through GET /emission-factors). Units: intensity in gCO2eq/kWh (= kg/MWh),
 * power in MW, hourly energy in MWh (EIA-930 reports MWh per hour, i.e. average MW).
 */
export const METHODOLOGY = {
  envelope:
    'Every answer carries `source` (where the numbers come from: eia, simulated, external, mixed or none), ' +
    '`dataThrough` (start of the newest UTC hour behind the numbers), `generatedAt`, and `stale` (true only when the ' +
    'database failed and the last good answer is served from cache). Timestamps are UTC hour starts.',
  factors:
    'Emission factors in gCO2eq/kWh per fuel. lifecycle: IPCC AR5 (2014) lifecycle medians as used by Electricity Maps ' +
    '(coal 820, gas 490, oil 650, nuclear 12, hydro 24, wind 11, solar 45, biomass 230, geothermal 38, unknown/other 700). ' +
    'direct: combustion only (coal 760, gas 370, oil 406, unknown/other 575, all non-combustion sources 0). ' +
    'EIA fuel codes GridPulse does not recognise count as unknown/other. A BA may override a factor (e.g. eGRID-derived), listed under overrides.',
  storage: STORAGE_RULE,
  negatives: NEGATIVE_GENERATION_RULE,
  production:
    'Production-based intensity of a BA hour: Σ generation_f × factor_f / Σ generation_f over the BA\'s own positive ' +
    'generation by fuel (EIA-930 fuel-type data). ' + NEGATIVE_GENERATION_RULE + ' Null when the hour has no fuel data (flag no-fuel-data) ' +
    'or no positive generation (no-generation); partial-fuel-data when some of the BA\'s fuel series expected that hour (see expected) are missing.',
  consumption:
    'Consumption-based intensity by flow tracing (de Chalendar et al., PNAS 2019; as gridemissions and Electricity Maps): each BA ' +
    'mixes its own production with its imports and consumes or exports that mix, so per hour x_i · (G_i + Σ_j F_j→i) − Σ_j F_j→i · x_j = E_i ' +
    'for every BA with fuel data, solved over all BAs at once. Interchange pairs: the flow is the average of both sides\' reports; ' +
    `when they differ by more than ${PAIR_TOLERANCE.absoluteMw} MW and ${PAIR_TOLERANCE.relative * 100} % both BAs are flagged pair-mismatch; one side alone is used as is. ` +
    'Imports from a neighbour without fuel data (e.g. Canadian and Mexican BAs) are left out of the mix (flag neighbour-missing); ' +
    'EIA publishes BA-to-BA interchange hours to days after generation: a BA none of whose expected interchange pairs is reported by either side ' +
    'in an hour gets consumption-based intensity null with the flag interchange-missing (never its production value passed off as consumption-based); ' +
    'one with some expected pairs unreported is traced with the others and flagged interchange-partial. ' +
    'Total emissions are conserved; a BA with no interchange series at all gets its production-based intensity.',
  expected:
    'Which inputs an hour should have comes from the store, not from the range asked: a series (a fuel, or an interchange pair from either side) ' +
    'is expected from its first non-null hour until a week after its newest (EIA-930 interchange arrives up to two days late; a week\'s silence ' +
    'means the series ended). So an hour\'s value and flags are the same in every range that contains it.',
  flags:
    'Per-hour flags: no-fuel-data, no-generation, partial-fuel-data, neighbour-missing, pair-mismatch, interchange-missing (consumption value null: ' +
    'the BA\'s interchange for the hour is not published yet), interchange-partial.',
  shares:
    'renewableShare: share of positive generation from wind, solar (incl. hybrids with batteries), hydro, geothermal and biomass. ' +
    'carbonFreeShare: renewables other than biomass plus nuclear. Storage discharge counts in the denominator only. Shares are 0–1.',
  cleanWindow:
    'Best time for a job of the given duration (Carbon Aware SDK method): a window slides over the hourly intensity one point at a time; its value is the ' +
    'time-weighted average of the points it overlaps (gCO2eq/kWh); only windows fully covered by data count. optimal lists every window tied at the minimum; ' +
    'best lists the N lowest windows that do not overlap (greedy, lowest first); runNow is the window starting at the first hour of the range, with ' +
    'savingsPct = (runNow.avg − optimal.avg) / runNow.avg × 100. basis=forecast uses the newest stored intensity forecast, basis=history the measured hours.',
} as const;
