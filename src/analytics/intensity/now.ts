import type { Db } from '../../platform/db.ts';
import { getBa, listBas, type BalancingAuthority } from '../../grid/ba-repository.ts';
import { combineSources, HOUR_MS, loadBaHours, type DataSource } from '../shared/hourly.ts';
import { fuelInfo, isStorage, loadFactorOverrides, type FactorOverride, type FactorSetName } from './factors.ts';
import { freshnessOf, type FreshnessStatus } from '../shared/freshness.ts';
import type { RetirementOf } from '../../grid/freshness.ts';
import { consumptionPoints, INTENSITY_UNIT, loadSystemAt, productionFromSystem, valuesAt, type IntensityFlag, type SystemHours } from './intensity.ts';

export interface Freshness { status: FreshnessStatus; lagMinutes: number | null }
/** Freshness of a BA's newest hour, injected so tests can pin `now`. */
export type FreshnessOf = (newest: Date | null, now: Date, ba?: RetirementOf) => Freshness;

/** /now and /bas/{code}/now report the freshness of the generation-by-fuel hour their numbers stand on. */
export const generationFreshness: FreshnessOf = freshnessOf('generation_by_fuel');

export interface MixEntry { fuel: string; name: string; mw: number | null; share: number | null }
export interface Mix { mix: MixEntry[]; renewableShare: number | null; carbonFreeShare: number | null }

/**
 * Fuel mix of one hour: MW per fuel and its share of positive generation (storage discharge included in
 * the total; negative values shown as reported, with share 0). Largest first.
 */
export function mixOf(fuels: Readonly<Record<string, number | null>>): Mix {
  const positive = (v: number | null) => (v !== null && v > 0 ? v : 0);
  const total = Object.values(fuels).reduce<number>((t, v) => t + positive(v), 0);
  const share = (v: number) => (total > 0 ? v / total : null);
  const mix = Object.entries(fuels)
    .map(([fuel, mw]) => ({ fuel, name: fuelInfo(fuel).name, mw, share: mw === null ? null : share(positive(mw)) }))
    .sort((a, b) => (b.mw ?? -Infinity) - (a.mw ?? -Infinity) || a.fuel.localeCompare(b.fuel));
  const sum = (pick: (code: string) => boolean) => Object.entries(fuels).reduce((t, [c, v]) => t + (pick(c) ? positive(v) : 0), 0);
  return {
    mix,
    renewableShare: share(sum((c) => fuelInfo(c).renewable)),
    carbonFreeShare: share(sum((c) => fuelInfo(c).carbonFree && !isStorage(c))),
  };
}

/**
 * Newest hour with a non-null value per BA, over the series `filter` selects: one index probe per series,
 * reading past trailing nulls (EIA nulls are stored as null rows).
 */
async function newestHours(db: Db, filter: string, ba: string | undefined): Promise<Map<string, Date>> {
  const rows = await db.query<{ ba: string; ts: Date | string }>(
    `SELECT s.ba_code AS ba, max(o.ts) AS ts
       FROM series s
       CROSS JOIN LATERAL (SELECT ts FROM observations WHERE series_id = s.id AND value IS NOT NULL ORDER BY ts DESC LIMIT 1) o
      WHERE ${filter} ${ba ? 'AND s.ba_code = $1' : ''}
      GROUP BY s.ba_code`, ba ? [ba] : []);
  return new Map(rows.map((r) => [r.ba, new Date(r.ts)]));
}

/** Newest hour with a non-null generation-by-fuel value, per BA. */
export function newestFuelHours(db: Db, ba?: string): Promise<Map<string, Date>> {
  return newestHours(db, `s.type = 'generation_by_fuel'`, ba);
}

/** Newest observed hour with a non-null value, per BA: any series but the day-ahead forecast, which reaches ahead of the data. */
function newestDataHours(db: Db, ba?: string): Promise<Map<string, Date>> {
  return newestHours(db, `s.type <> 'forecast'`, ba);
}

/** Both intensities of one BA-hour, each with the flags that say what its inputs lack. */
export interface HourIntensity { production: number | null; consumption: number | null; flags: { production: IntensityFlag[]; consumption: IntensityFlag[] } }

/** Intensity of each BA at its own hour: production and consumption (one trace per distinct hour). */
function intensitiesAt(system: SystemHours, hourOf: ReadonlyMap<string, Date>, set: FactorSetName, overrides: readonly FactorOverride[]) {
  const consumption = consumptionPoints(system, set, overrides);
  const index = new Map(system.ts.map((t, i) => [t.getTime(), i]));
  const out = new Map<string, HourIntensity & { fuels: Record<string, number | null> }>();
  for (const [ba, hour] of hourOf) {
    const i = index.get(hour.getTime());
    if (i === undefined) continue;
    const production = productionFromSystem(system, ba, set, overrides)[i]!;
    const traced = consumption.get(ba)?.[i] ?? { value: null, flags: ['no-fuel-data' as const] };
    out.set(ba, {
      production: production.value, consumption: traced.value,
      flags: { production: production.flags, consumption: traced.flags },
      fuels: valuesAt(system.fuels.get(ba) ?? {}, i),
    });
  }
  return out;
}

export interface BaNowAnswer {
  ba: string; source: DataSource; dataThrough: string | null; generatedAt: string;
  hour: string | null; demandMw: number | null; netGenerationMw: number | null;
  mix: MixEntry[]; renewableShare: number | null; carbonFreeShare: number | null;
  intensity: HourIntensity & { unit: typeof INTENSITY_UNIT };
  /**
   * When the consumption value of `hour` is null because its interchange is not published yet: the newest hour
   * whose interchange is (the BA's newest BA-to-BA interchange hour), its consumption value and flags. Else null.
   */
  latestConsumption: { hour: string; value: number | null; flags: IntensityFlag[] } | null;
  imports: Array<{ ba: string; mw: number }>;
  freshness: Freshness;
}

/**
 * What's Powering Me: the BA's newest hour with fuel data (or, without any, its newest observed hour of any series):
 * mix, shares, both intensities (the factors given, lifecycle by default) with their flags, imports by neighbour (positive = into this BA).
 * Interchange arrives later than generation: when it is missing for that hour, the consumption value is null
 * (flag interchange-missing) and `latestConsumption` gives the newest hour that has it.
 * `undefined` for an unknown BA.
 */
export async function baNow(db: Db, code: string, freshness: FreshnessOf, now = new Date(), factors: Factors = LIFECYCLE): Promise<BaNowAnswer | undefined> {
  const ba = await getBa(db, code);
  if (!ba) return undefined;
  const hour = (await newestFuelHours(db, code)).get(code) ?? (await newestDataHours(db, code)).get(code) ?? null;
  const base = { ba: code, generatedAt: now.toISOString(), freshness: freshness(hour, now, ba) };
  if (!hour) {
    return { ...base, source: 'none', dataThrough: null, hour: null, demandMw: null, netGenerationMw: null, mix: [], renewableShare: null,
      carbonFreeShare: null, intensity: { ...NO_INTENSITY, unit: INTENSITY_UNIT }, latestConsumption: null, imports: [] };
  }
  const [hours, system, overrides] = await Promise.all([
    loadBaHours(db, ba, hour, new Date(hour.getTime() + HOUR_MS)), loadSystemAt(db, [hour], { reaching: code }), factors.overrides ?? loadFactorOverrides(db)]);
  const at = intensitiesAt(system, new Map([[code, hour]]), factors.base, overrides).get(code) ?? NO_INTENSITY;
  const imports = Object.entries(hours!.interchange)
    .filter(([, v]) => v[0] !== null && v[0] !== undefined)
    .map(([neighbour, v]) => ({ ba: neighbour, mw: -(v[0] as number) }))
    .sort((a, b) => b.mw - a.mw);
  return {
    ...base, source: hours!.source, dataThrough: hour.toISOString(), hour: hour.toISOString(),
    demandMw: hours!.demand[0] ?? null, netGenerationMw: hours!.netGeneration[0] ?? null,
    ...mixOf(valuesAt(hours!.fuels, 0)),
    intensity: { production: at.production, consumption: at.consumption, flags: at.flags, unit: INTENSITY_UNIT },
    latestConsumption: at.flags.consumption.includes('interchange-missing') ? await latestConsumption(db, code, hour, factors.base, overrides) : null,
    imports,
  };
}

/** The factor set of an answer: `base`, with `overrides` in place of the stored ones (the eGRID sets; egrid-factor-set.ts). */
export interface Factors { base: FactorSetName; overrides?: readonly FactorOverride[] | undefined }
const LIFECYCLE: Factors = { base: 'lifecycle' };

const NO_INTENSITY: HourIntensity = { production: null, consumption: null, flags: { production: ['no-fuel-data'], consumption: ['no-fuel-data'] } };

/**
 * The consumption-based intensity at the BA's newest hour up to `through` with BA-to-BA interchange reported by
 * either side of any of its pairs, or null without one.
 */
async function latestConsumption(db: Db, code: string, through: Date, set: FactorSetName, overrides: readonly FactorOverride[]): Promise<BaNowAnswer['latestConsumption']> {
  const [row] = await db.query<{ ts: Date | string | null }>(
    `SELECT max(o.ts) AS ts FROM series s
       CROSS JOIN LATERAL (SELECT ts FROM observations WHERE series_id = s.id AND value IS NOT NULL AND ts <= $2 ORDER BY ts DESC LIMIT 1) o
      WHERE s.type = 'ba_interchange' AND (s.ba_code = $1 OR s.subtype = $1)`, [code, through]);
  if (!row?.ts) return null;
  const hour = new Date(row.ts);
  const point = consumptionPoints(await loadSystemAt(db, [hour], { reaching: code }), set, overrides).get(code)?.[0];
  return { hour: hour.toISOString(), value: point?.value ?? null, flags: point?.flags ?? ['no-fuel-data'] };
}

export interface NowRow {
  ba: string; name: string; region: string; interconnection: string; timeZone: string; hour: string | null;
  intensity: number | null; productionIntensity: number | null;
  /** what each value's inputs lack at `hour` (intensity null with interchange-missing: interchange not published yet) */
  intensityFlags: IntensityFlag[]; productionFlags: IntensityFlag[];
  demandMw: number | null; renewableShare: number | null;
  source: DataSource; dataThrough: string | null; freshness: Freshness;
}

/** Demand of each BA at its hour (one query). */
async function demandAt(db: Db, hourOf: ReadonlyMap<string, Date>): Promise<Map<string, number | null>> {
  if (hourOf.size === 0) return new Map();
  const rows = await db.query<{ ba: string; ts: Date | string; value: number | null }>(
    `SELECT s.ba_code AS ba, o.ts, o.value FROM series s JOIN observations o ON o.series_id = s.id
      WHERE s.type = 'demand' AND o.ts = ANY ($1::timestamptz[])`,
    [[...new Set([...hourOf.values()].map((h) => h.toISOString()))]]);
  const out = new Map<string, number | null>();
  for (const r of rows) if (hourOf.get(r.ba)?.getTime() === new Date(r.ts).getTime()) out.set(r.ba, r.value === null ? null : Number(r.value));
  return out;
}

/** The home page's table: every active BA at its newest fuel hour, in seven queries whatever the number of BAs. */
export async function allNow(db: Db, freshness: FreshnessOf, now = new Date(), factors: Factors = LIFECYCLE): Promise<{ generatedAt: string; data: NowRow[] }> {
  const [bas, fuelHours, dataHours, overrides] = await Promise.all([listBas(db), newestFuelHours(db), newestDataHours(db), factors.overrides ?? loadFactorOverrides(db)]);
  const [system, demand] = await Promise.all([loadSystemAt(db, [...fuelHours.values()]), demandAt(db, fuelHours)]);
  const intensities = intensitiesAt(system, fuelHours, factors.base, overrides);
  const data = bas.map((ba: BalancingAuthority): NowRow => {
    const hour = fuelHours.get(ba.code) ?? null;
    const at = intensities.get(ba.code);
    return {
      ba: ba.code, name: ba.name, region: ba.region, interconnection: ba.interconnection, timeZone: ba.timeZone,
      hour: hour?.toISOString() ?? null, intensity: at?.consumption ?? null, productionIntensity: at?.production ?? null,
      intensityFlags: (at ?? NO_INTENSITY).flags.consumption, productionFlags: (at ?? NO_INTENSITY).flags.production,
      demandMw: demand.get(ba.code) ?? null, renewableShare: at ? mixOf(at.fuels).renewableShare : null,
      source: combineSources(system.sources.get(ba.code) ?? []), dataThrough: dataHours.get(ba.code)?.toISOString() ?? null,
      freshness: freshness(hour, now),
    };
  });
  return { generatedAt: now.toISOString(), data };
}
