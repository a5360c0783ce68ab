import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { Db } from '../platform/db.ts';
import { HOUR_MS } from '../grid/time.ts';
import { lagMinutes } from '../grid/freshness.ts';
import { getBa } from '../grid/ba-repository.ts';
import { addDays, localDateOf, localDay } from '../grid/local-day.ts';
import { hourlyIntensity, INTENSITY_UNIT } from '../analytics/intensity/intensity.ts';
import { loadBaHours } from '../analytics/shared/hourly.ts';
import { cleanWindow } from '../analytics/clean-window/clean-window.ts';
import { latestIntensityForecast } from '../analytics/clean-window/carbon-aware.ts';
import { offlineDevices } from '../fleet/overview/fleet-overview.ts';

const baCode = z.string().regex(/^[A-Za-z0-9]{2,6}$/, 'an EIA BA code such as CISO').transform((s) => s.toUpperCase());

/**
 * The rule kinds an alert can hold. Each names one BA; thresholds carry their unit in their name.
 * - intensity_below: the BA's hourly carbon intensity (gCO2eq/kWh, lifecycle factors; consumption-based by default) is below the threshold.
 * - clean_window_tomorrow: the start of tomorrow's (BA-local day) cleanest window of `durationHours`, from the newest intensity forecast.
 * - data_late: the BA's newest demand hour ended more than `hours` ago.
 * - demand_above_forecast: measured demand exceeds EIA's day-ahead demand forecast (DF) by more than `percent` %.
 * - devices_offline (operators and administrators only): at least `count` batteries of the fleet (of one BA when `ba`
 *   is given) have been offline for more than `minutes`.
 */
function ruleSchema<B extends z.ZodType<string, string>>(ba: B) {
  return z.discriminatedUnion('kind', [
    z.object({
      kind: z.literal('intensity_below'), ba,
      thresholdGPerKwh: z.number().positive().max(2000).describe(`threshold, ${INTENSITY_UNIT}`),
      basis: z.enum(['consumption', 'production']).default('consumption'),
    }),
    z.object({
      kind: z.literal('clean_window_tomorrow'), ba,
      durationHours: z.number().int().min(1).max(12).default(3).describe('length of the window, hours'),
    }),
    z.object({ kind: z.literal('data_late'), ba, hours: z.number().int().min(1).max(720).describe('hours since the end of the newest demand hour') }),
    z.object({ kind: z.literal('demand_above_forecast'), ba, percent: z.number().min(0).max(1000).describe('(demand − forecast) / forecast × 100 above this') }),
    z.object({
      kind: z.literal('devices_offline'), ba: ba.optional().describe('only devices in this BA; absent: the whole fleet'),
      minutes: z.number().int().min(1).max(10_080).describe('offline for longer than this, minutes'),
      count: z.number().int().min(1).max(1_000_000).default(1).describe('at least this many devices'),
    }),
  ]).describe('the condition; see the rule kinds in the description');
}

export const alertRule = ruleSchema(baCode);
/** The same shapes as answered (no input transforms, so the OpenAPI document can describe them). */
export const alertRuleOut = ruleSchema(z.string());

export type AlertRule = z.output<typeof alertRule>;

/** Rule kinds only operators and administrators may hold: they disclose the fleet (an alert of a demoted owner stops firing). */
export const FLEET_RULE_KINDS: readonly string[] = ['devices_offline'];
export const FLEET_ROLES: readonly string[] = ['operator', 'admin'];

/** What `alerts.ba_code` holds for a rule (fleet-wide rules have no BA). */
export const ruleBaCode = (rule: AlertRule): string => ('ba' in rule && rule.ba ? rule.ba : '*');

/** One firing of a rule: `occurrence` identifies it so that it fires once (e.g. the start hour of a low-intensity spell). */
export interface Firing { occurrence: string; summary: string; details: Record<string, unknown> }

/** Hours looked back for a spell (a run of consecutive hours meeting a condition). */
export const SPELL_LOOKBACK_HOURS = { intensity_below: 48, demand_above_forecast: 168 } as const;

/**
 * The spell the newest evaluable hour belongs to: when the newest hour with a value meets `meets`,
 * the run of consecutive hours meeting it back from there (an hour without a value ends the run).
 * One spell is one occurrence, however many hours it lasts; a spell longer than the look-back is cut
 * there (its occurrence then moves, and the cool-down holds it back).
 */
export function currentSpell(points: ReadonlyArray<{ ts: Date; value: number | null }>, meets: (v: number, i: number) => boolean):
  { start: Date; newest: Date; newestValue: number; hours: number } | undefined {
  let last = points.length - 1;
  while (last >= 0 && points[last]!.value === null) last--;
  if (last < 0 || !meets(points[last]!.value!, last)) return undefined;
  let first = last;
  while (first > 0 && points[first - 1]!.value !== null && meets(points[first - 1]!.value!, first - 1)) first--;
  return { start: points[first]!.ts, newest: points[last]!.ts, newestValue: points[last]!.value!, hours: last - first + 1 };
}

const hourFloor = (t: Date) => new Date(Math.floor(t.getTime() / HOUR_MS) * HOUR_MS);
const round1 = (v: number) => Math.round(v * 10) / 10;

/** Evaluates one rule at `now`; `undefined` when its condition does not hold (or cannot be judged: no data). */
export async function evaluateRule(db: Db, rule: AlertRule, now: Date): Promise<Firing | undefined> {
  switch (rule.kind) {
    case 'intensity_below': {
      const to = new Date(hourFloor(now).getTime() + HOUR_MS);
      const from = new Date(to.getTime() - SPELL_LOOKBACK_HOURS.intensity_below * HOUR_MS);
      const series = await hourlyIntensity(db, rule.ba, from, to, rule.basis, 'lifecycle');
      const spell = series && currentSpell(series.points, (v) => v < rule.thresholdGPerKwh);
      if (!spell) return undefined;
      return {
        occurrence: `intensity_below:${spell.start.toISOString()}`,
        summary: `${rule.ba} ${rule.basis} carbon intensity is ${round1(spell.newestValue)} ${INTENSITY_UNIT}, below ${rule.thresholdGPerKwh}, since ${spell.start.toISOString()}`,
        details: { since: spell.start.toISOString(), hour: spell.newest.toISOString(), value: spell.newestValue, unit: INTENSITY_UNIT, basis: rule.basis, factors: 'lifecycle' },
      };
    }
    case 'demand_above_forecast': {
      const to = new Date(hourFloor(now).getTime() + HOUR_MS);
      const from = new Date(to.getTime() - SPELL_LOOKBACK_HOURS.demand_above_forecast * HOUR_MS);
      const hours = await loadBaHours(db, rule.ba, from, to, ['demand', 'forecast']);
      if (!hours) return undefined;
      // an hour counts only with both numbers and a positive forecast
      const excess = hours.ts.map((ts, i) => {
        const d = hours.demand[i];
        const f = hours.forecast[i];
        return { ts, value: d != null && f != null && f > 0 ? ((d - f) / f) * 100 : null };
      });
      const spell = currentSpell(excess, (v) => v > rule.percent);
      if (!spell) return undefined;
      const i = hours.ts.findIndex((t) => t.getTime() === spell.newest.getTime());
      return {
        occurrence: `demand_above_forecast:${spell.start.toISOString()}`,
        summary: `${rule.ba} demand is ${round1(spell.newestValue)} % above the day-ahead forecast (threshold ${rule.percent} %) since ${spell.start.toISOString()}`,
        details: { since: spell.start.toISOString(), hour: spell.newest.toISOString(), demandMwh: hours.demand[i], forecastMwh: hours.forecast[i], excessPct: spell.newestValue },
      };
    }
    case 'data_late': {
      const [row] = await db.query<{ newest: Date | string | null }>(
        `SELECT max(o.ts) AS newest FROM observations o JOIN series s ON s.id = o.series_id
          WHERE s.ba_code = $1 AND s.type = 'demand' AND o.value IS NOT NULL`, [rule.ba]);
      const newest = row?.newest ? new Date(row.newest) : null;
      const lag = lagMinutes(newest, now);
      if (newest === null || lag === null || lag <= rule.hours * 60) return undefined;
      return {
        // one occurrence per stall: the same newest hour stays late until a newer one arrives
        occurrence: `data_late:${newest.toISOString()}`,
        summary: `${rule.ba} demand data is late by ${round1(lag / 60)} hours (newest hour ${newest.toISOString()}; threshold ${rule.hours} h)`,
        details: { newestHour: newest.toISOString(), lagMinutes: lag, thresholdHours: rule.hours },
      };
    }
    case 'devices_offline': {
      const offline = await offlineDevices(db, now, { ba: rule.ba ?? null, offlineBefore: new Date(now.getTime() - rule.minutes * 60_000), limit: 100_000 });
      if (offline.length < rule.count) return undefined;
      const where = rule.ba ? ` in ${rule.ba}` : '';
      // one occurrence per outage set: a device that returns and drops again starts a new one
      const occurrence = `devices_offline:${createHash('sha256').update(offline.map((d) => `${d.id}@${d.offlineSince}`).join(',')).digest('hex').slice(0, 24)}`;
      return {
        occurrence,
        summary: `${offline.length} device${offline.length === 1 ? '' : 's'}${where} offline for more than ${rule.minutes} minutes (threshold ${rule.count}): ${offline.slice(0, 10).map((d) => d.id).join(', ')}${offline.length > 10 ? ', …' : ''}`,
        details: { count: offline.length, thresholdCount: rule.count, minutes: rule.minutes, ba: rule.ba ?? null, devices: offline.slice(0, 100) },
      };
    }
    case 'clean_window_tomorrow': {
      const ba = await getBa(db, rule.ba);
      if (!ba) return undefined;
      const tomorrow = localDay(addDays(localDateOf(now, ba.timeZone), 1), ba.timeZone);
      const forecast = await latestIntensityForecast(db, rule.ba);
      if (!forecast) return undefined;
      const result = cleanWindow(forecast.points, { durationMinutes: rule.durationHours * 60, from: tomorrow.from.getTime(), to: tomorrow.to.getTime(), count: 1 });
      const best = result.best[0];
      if (!best) return undefined;
      const start = new Date(best.start).toISOString();
      return {
        occurrence: `clean_window_tomorrow:${tomorrow.date}`,
        summary: `${rule.ba}: tomorrow's (${tomorrow.date}) cleanest ${rule.durationHours}-hour window starts ${start}, averaging ${round1(best.avg)} ${INTENSITY_UNIT}`,
        details: { date: tomorrow.date, timeZone: ba.timeZone, start, end: new Date(best.end).toISOString(), avg: best.avg, unit: INTENSITY_UNIT, forecastMadeAt: forecast.madeAt.toISOString() },
      };
    }
  }
}
